#!/usr/bin/env python3
"""The auditor's and operator's console pages by clicks in headless Chromium (console_browser.py's
browser, one identity: a department with both roles).

    console_browser_audit.py --url https://127.0.0.1:PORT --ca CA.pem
        --identity data-office=CERT.pem,KEY.pem --subject ID --reply TEXT [--screenshots DIR]

Searches the audit log for the subject, checks the checkpoint page says the signed note verified,
makes the subject access report, handles the open complaint with TEXT, opens the catalog and the
change form (the API's 422 next to the field), draws the statistics (three SVG charts) and
downloads their CSV. Writes one JSON object on stdout: {"ok": true, "csv": "...", "seconds": {...}}
or {"ok": false, "error": "..."}; exits 1 on failure.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from selenium.webdriver.common.by import By

from console_browser import POLICY_FILE, Browser, check, issuer_cn, write_policy


def downloaded(directory, timeout=10):
    """The text of the one finished download in `directory`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [f for f in os.listdir(directory) if not f.endswith(".crdownload")]
        if done:
            with open(os.path.join(directory, done[0]), encoding="utf-8", newline="") as f:
                return done[0], f.read()
        time.sleep(0.1)
    raise AssertionError(f"no download in {directory}")


def from_home(browser, url, link):
    """Opens the home page and follows its menu link `link` (by its text)."""
    browser.get(url + "/console/")
    browser.click_link(link)


def found(browser, css):
    return browser.driver.find_elements(By.CSS_SELECTOR, css)


def story(args, browser, shots, seconds, downloads):
    url = args.url
    started = time.monotonic()
    browser.get(url + "/console/")
    check("首页" in browser.title(), f"home: {browser.title()!r}")

    # The audit search by POST: the subject in the form body, the result in the page, not the URL.
    browser.click_link("审计日志查询")
    browser.type("subject", args.subject)
    browser.submit("form.search button[type=submit]")
    check(args.subject not in browser.driver.current_url, "no subject ID in the URL")
    rows = found(browser, "table.audit tbody tr")
    check(rows and "verification.submitted" in browser.text(), f"search found the subject's entries: {browser.text()[:300]}")
    browser.no_script_ran()
    browser.shot(shots, "audit-search")

    # The checkpoint, verified on the server with the log's key.
    from_home(browser, url, "审计日志检查点")
    check(found(browser, "span.verdict[data-verified=true]"),
          f"checkpoint verified: {browser.text()[:300]}")
    browser.shot(shots, "checkpoint")
    seconds["auditor"] = round(time.monotonic() - started, 2)

    # The subject access report, printable.
    started = time.monotonic()
    from_home(browser, url, "个人信息查阅记录报告")
    browser.type("subject", args.subject)
    browser.type("reason", "市民申请 2026-0042")
    browser.submit("form.stack button[type=submit]")
    report = found(browser, "table.report tbody tr")
    check(report and args.subject not in browser.driver.current_url, f"report with entries: {browser.text()[:300]}")
    browser.no_script_ran()
    browser.shot(shots, "access-report")

    # A complaint handled with a note; its hostile text shown as text.
    from_home(browser, url, "监督投诉处理")
    check("<script>" in browser.text(), "the hostile complaint shows as text")
    browser.no_script_ran()
    browser.shot(shots, "complaints")
    reply = browser.driver.find_element(By.CSS_SELECTOR, "section.complaint textarea[name=reply]")
    reply.send_keys(args.reply)
    browser.submit("section.complaint form button[type=submit]")
    check(not found(browser, "section.complaint form"), "no complaint left open")
    browser.click_link("已处理")
    check(args.reply in browser.text(), "the handled list shows the reply")

    # The catalog and a change the API refuses, its 422 next to the field.
    from_home(browser, url, "证明事项目录版本")
    check(found(browser, "table.versions tbody tr"), "catalog versions listed")
    browser.shot(shots, "catalog")
    browser.click_link("变更目录")
    browser.select("code", "CIV-MARRIAGE")
    browser.type("json", '{"timeLimitWorkingDays": -1}')
    browser.submit("form.stack button[type=submit]")
    check(found(browser, "span.error[data-field=reason]")
          and found(browser, "span.error[data-field=json]"),
          f"the 422 next to reason and the JSON: {browser.text()[:300]}")
    browser.shot(shots, "catalog-change-422")
    seconds["operator"] = round(time.monotonic() - started, 2)

    # Statistics: three server-drawn charts, and the same tables downloaded as CSV.
    started = time.monotonic()
    from_home(browser, url, "统计与图表")
    charts = found(browser, "svg.chart")
    check(len(charts) == 3, f"three SVG charts, found {len(charts)}")
    browser.shot(shots, "stats")
    browser.driver.find_element(By.CSS_SELECTOR, "a.csv-link").click()
    name, csv = downloaded(downloads)
    check(csv.startswith("section,"), f"the CSV download: {name} {csv[:80]!r}")
    seconds["stats"] = round(time.monotonic() - started, 2)
    return csv


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--reply", required=True)
    parser.add_argument("--screenshots")
    args = parser.parse_args()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    name, files = args.identity.split("=", 1)
    cert, key = files.split(",")
    seconds = {}
    browser = None
    downloads = tempfile.mkdtemp(prefix="heyan-downloads-")
    started = time.monotonic()
    try:
        write_policy([issuer_cn(cert)])
        browser = Browser(name, cert, key, args.ca)
        browser.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
        seconds["start"] = round(time.monotonic() - started, 2)
        csv = story(args, browser, args.screenshots, seconds, downloads)
        seconds["total"] = round(time.monotonic() - started, 2)
        print(json.dumps({"ok": True, "csv": csv, "seconds": seconds}, ensure_ascii=False))
        return 0
    except Exception as error:  # reported to the Swift test, which fails
        print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}", "seconds": seconds}, ensure_ascii=False))
        return 1
    finally:
        if browser:
            browser.quit()
        shutil.rmtree(downloads, ignore_errors=True)
        if os.path.exists(POLICY_FILE):
            os.remove(POLICY_FILE)


if __name__ == "__main__":
    sys.exit(main())
