#!/usr/bin/env python3
"""Drives heyan's clerks' console in headless Chromium with real department certificates.

    console_browser.py --url https://127.0.0.1:PORT --ca CA.pem
        --identity housing-fund=CERT.pem,KEY.pem --identity civil-affairs=CERT.pem,KEY.pem
        --foreign CERT.pem,KEY.pem [--screenshots DIR]

Each identity is its own browser: a temporary HOME whose NSS database (~/.pki/nssdb) holds the
department's certificate and key (imported as PKCS#12 with pk12util) and trusts the CA. Headless
Chromium picks a client certificate only through the managed policy AutoSelectCertificateForUrls,
so this script writes /etc/chromium/policies/managed/heyan-console-test.json (scoped to
https://127.0.0.1) and removes it when it ends. Everything happens by clicks and typing.

Writes one JSON object on stdout: {"ok": true, "verification": "ver_…", "seconds": {...}} or
{"ok": false, "error": "..."}; exits 1 on failure.
"""
import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

POLICY_DIR = "/etc/chromium/policies/managed"
POLICY_FILE = os.path.join(POLICY_DIR, "heyan-console-test.json")
HOSTILE = "<script>document.title='pwned'</script>住房公积金提取"
SUBJECT = "11010519491231002X"
BAD_SUBJECT = "110105194912310021"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def issuer_cn(pem_file):
    cert = x509.load_pem_x509_certificate(open(pem_file, "rb").read())
    return cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def write_policy(issuers):
    os.makedirs(POLICY_DIR, exist_ok=True)
    entries = [json.dumps({"pattern": "https://127.0.0.1", "filter": {"ISSUER": {"CN": cn}}}) for cn in issuers]
    with open(POLICY_FILE, "w") as f:
        json.dump({"AutoSelectCertificateForUrls": entries}, f)


class Browser:
    """One Chromium with one client identity (its own HOME and NSS database)."""

    def __init__(self, name, cert, key, ca):
        self.name = name
        self.home = tempfile.mkdtemp(prefix=f"heyan-browser-{name}-")
        db = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(db)
        run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"])
        p12 = os.path.join(self.home, "identity.p12")
        certificate = x509.load_pem_x509_certificate(open(cert, "rb").read())
        private_key = serialization.load_pem_private_key(open(key, "rb").read(), password=None)
        with open(p12, "wb") as f:
            f.write(pkcs12.serialize_key_and_certificates(
                name.encode(), private_key, certificate, None, serialization.NoEncryption()))
        run(["pk12util", "-i", p12, "-d", f"sql:{db}", "-W", ""])
        run(["certutil", "-A", "-d", f"sql:{db}", "-n", "heyan-ca", "-t", "CT,,", "-i", ca])
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--user-data-dir={os.path.join(self.home, 'profile')}", "--window-size=1366,768",
                     "--lang=zh-CN", "--no-first-run"]:
            options.add_argument(flag)
        # An office browser in China asks for Chinese (headless Chromium would say en-US).
        options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
        env = dict(os.environ, HOME=self.home)
        service = Service(executable_path="/usr/bin/chromedriver", env=env)
        self.driver = webdriver.Chrome(service=service, options=options)
        # Generous: the first page of a fresh profile (NSS database, TLS client certificate) took
        # over 10 s on the 2-core machine while other builds ran.
        self.driver.set_page_load_timeout(30)

    def get(self, url):
        """Navigates; a network error is kept in `last_error` (judged by the caller, with what the
        page shows — never by get() returning)."""
        self.last_error = ""
        try:
            self.driver.get(url)
        except TimeoutException as error:
            self.last_error = f"timeout: {error.msg}"
        except WebDriverException as error:
            self.last_error = error.msg or str(error)

    def title(self):
        return self.driver.title

    def h1(self):
        found = self.driver.find_elements(By.TAG_NAME, "h1")
        return found[0].text if found else ""

    def navigating(self, element):
        """Clicks `element` and waits until the page it leads to has replaced this one."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(self.driver, 10).until(lambda d: self.detached(old))
        WebDriverWait(self.driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")

    @staticmethod
    def detached(element):
        """True once `element`'s document is gone. Chromium's driver reports a node of a replaced
        document either as stale or as "Node with given id does not belong to the document" (an
        unknown error, seen in CI-like runs); both mean the old page is gone."""
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True

    def click_link(self, text):
        self.navigating(self.driver.find_element(By.PARTIAL_LINK_TEXT, text))

    def click(self, css):
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def submit(self, css):
        self.navigating(self.driver.find_element(By.CSS_SELECTOR, css))

    def type(self, field_id, text):
        element = self.driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(text)

    def select(self, name, value):
        Select(self.driver.find_element(By.NAME, name)).select_by_value(value)

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def shot(self, directory, name):
        if directory:
            height = self.driver.execute_script("return document.body.scrollHeight")
            self.driver.set_window_size(1366, max(768, min(height + 40, 2400)))
            self.driver.save_screenshot(os.path.join(directory, f"{name}.png"))
            self.driver.set_window_size(1366, 768)

    def no_script_ran(self):
        check("pwned" not in self.title(), f"{self.name}: a stored script ran on {self.driver.current_url}")

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


def run(arguments):
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def forgery_server(target):
    """A page on another origin (plain HTTP, another port) that auto-submits a form to heyan."""
    page = f"""<!DOCTYPE html><html><body><form method="post" action="{target}/console/requests">
<input name="certificateType" value="CIV-MARRIAGE"><input name="matterCode" value="HF-WITHDRAW-001">
<input name="purpose" value="forged"><input name="subject.idType" value="resident-id">
<input name="subject.id" value="{SUBJECT}"><input name="subject.name" value="forged">
<input name="claims.maritalStatus" value="married"><input name="csrf" value="guessed"></form>
<script>document.forms[0].submit()</script></body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def story(args, identities, shots, seconds):
    url = args.url
    hf, ca, foreign = identities["housing-fund"], identities["civil-affairs"], identities["foreign"]

    # A housing-fund clerk asks, first with a mistyped ID (the server's 422 next to the field).
    started = time.monotonic()
    hf.get(url + "/console/")
    check("首页" in hf.title(), f"housing-fund home: title {hf.title()!r}")
    check("住房公积金管理中心" in hf.text(), "the signed-in department is shown")
    who = hf.driver.find_element(By.CSS_SELECTOR, "div.who").text
    check("李四（hf-0042）" in who, f"the signed-in clerk (经办人) is shown: {who!r}")
    hf.shot(shots, "home-requester")
    hf.click_link("发起核验")
    hf.click_link("婚姻状况证明")
    hf.type("purpose", HOSTILE)
    hf.type("subject.id", BAD_SUBJECT)
    hf.type("subject.name", "张三")
    hf.select("claims.maritalStatus", "married")
    hf.shot(shots, "request-form")
    hf.submit("form.stack button[type=submit]")
    errors = hf.driver.find_elements(By.CSS_SELECTOR, "span.error[data-field='subject.id']")
    check(errors, f"the 422 is shown next to subject.id: {hf.text()[:300]}")
    hf.shot(shots, "request-form-422")
    hf.type("subject.id", SUBJECT)
    hf.submit("form.stack button[type=submit]")
    check("/console/requests/ver_" in hf.driver.current_url, f"submitted: at {hf.driver.current_url}")
    verification = hf.driver.current_url.split("/console/requests/")[1].split("?")[0]
    check(SUBJECT not in hf.driver.current_url, "no subject ID in the URL")
    check("待答复" in hf.text(), "the request is pending")
    hf.no_script_ran()
    seconds["submit"] = round(time.monotonic() - started, 2)

    # A civil-affairs clerk sees it, leases it and answers confirmed, disclosing maritalStatus.
    started = time.monotonic()
    ca.get(url + "/console/")
    who = ca.driver.find_element(By.CSS_SELECTOR, "div.who").text
    check("王五（ca-007）" in who, f"the civil-affairs clerk is shown: {who!r}")
    ca.click_link("待核验事项")
    check(HOSTILE in ca.text(), "the hostile purpose shows as text in the queue")
    ca.no_script_ran()
    ca.shot(shots, "queue")
    ca.submit("form button[type=submit]")
    check("《婚姻登记条例》" in ca.text() and "张三" in ca.text(), "the item page shows the legal basis and subject")
    ca.no_script_ran()
    ca.shot(shots, "item")
    ca.click("input[name=outcome][value=confirmed]")
    ca.select("disclosed.maritalStatus", "married")
    ca.type("note", "与婚姻登记记录一致")
    ca.submit("form.stack button[type=submit]")
    check(ca.driver.current_url.startswith(url + "/console/queue"), f"back to the queue: {ca.driver.current_url}")
    check("属实" in ca.text(), "the queue shows the item answered")
    seconds["answer"] = round(time.monotonic() - started, 2)

    # The housing-fund page was left open while pending: its script long-polls the API and
    # reloads it once answered (no manual reload).
    started = time.monotonic()
    WebDriverWait(hf.driver, 20).until(lambda d: "属实" in d.find_element(By.TAG_NAME, "body").text)
    seconds["longPoll"] = round(time.monotonic() - started, 2)

    # The housing-fund page shows it answered, with the verified payload and a printable QR.
    started = time.monotonic()
    hf.get(f"{url}/console/requests/{verification}")
    check("属实" in hf.text() and "maritalStatus" in hf.text(), "answered, maritalStatus disclosed")
    payload = hf.driver.find_element(By.CSS_SELECTOR, "pre.payload").text
    check('"maritalStatus"' in payload, f"verified payload shown: {payload[:200]}")
    hf.no_script_ran()
    hf.shot(shots, "attestation")
    hf.submit("a.print-link")
    check(hf.driver.find_elements(By.CSS_SELECTOR, "svg.qr"), "the print view has a QR code")
    check(hf.driver.find_element(By.CSS_SELECTOR, "code.attestation-id").text.startswith("att_"), "attestation id shown")
    hf.shot(shots, "print")
    hf.get(url + "/console/requests")
    hf.shot(shots, "requests")
    rows_before = len(hf.driver.find_elements(By.CSS_SELECTOR, "tbody tr"))
    seconds["result"] = round(time.monotonic() - started, 2)

    # A department without the requester role gets the 403 page.
    ca.get(url + "/console/requests/new")
    check("无法完成" in ca.title() and "403" in ca.text(), f"403 page for civil-affairs: {ca.title()!r}")
    ca.shot(shots, "forbidden")

    # A certificate from another CA gets no page.
    started = time.monotonic()
    foreign.get(url + "/console/")
    source = foreign.driver.page_source
    check("heyan" not in foreign.title() and not foreign.driver.find_elements(By.CSS_SELECTOR, "div.who"),
          f"foreign CA got a page: {foreign.title()!r}")
    check("ERR_" in source or "ERR_" in foreign.last_error, "Chromium shows its network error page (ERR_BAD_SSL_CLIENT_AUTH_CERT or similar)")
    seconds["foreignError"] = foreign.last_error.split("\n")[0][:80]
    seconds["foreign"] = round(time.monotonic() - started, 2)

    # A page on another origin that auto-submits a form to heyan is refused; nothing is stored.
    server = forgery_server(url)
    try:
        hf.get(f"http://127.0.0.1:{server.server_address[1]}/")
        WebDriverWait(hf.driver, 10).until(lambda d: d.current_url.startswith(url))
        check("无法完成" in hf.title() and "403" in hf.text(), f"forged post refused: {hf.title()!r} {hf.text()[:200]}")
    finally:
        server.shutdown()
    hf.get(url + "/console/requests")
    check(len(hf.driver.find_elements(By.CSS_SELECTOR, "tbody tr")) == rows_before, "the forged post stored nothing")
    return verification


def owner_story(args, identities, shots, seconds):
    """A tax-bureau clerk's spot check of a sampled commitment, and a public-security clerk's CSV
    upload (a file chosen in the file input, one bad row shown at its line, then corrected)."""
    url = args.url
    if "tax-bureau" in identities:
        started = time.monotonic()
        tax = identities["tax-bureau"]
        tax.get(url + "/console/")
        tax.click_link("承诺事后核查")
        tax.submit("form button[type=submit]")
        check("本人承诺上一年度收入属实" in tax.text(), f"the commitment under check is shown: {tax.text()[:300]}")
        tax.click("input[name=outcome][value=false-commitment]")
        tax.type("note", "收入与申报不符")
        tax.type("evidence", "税务核查记录 2026-0042")
        tax.shot(shots, "spot-check")
        tax.submit("form.stack button[type=submit]")
        check("核查结论已记录" in tax.text(), f"the finding is recorded: {tax.text()[:300]}")
        seconds["spotCheck"] = round(time.monotonic() - started, 2)
    if "public-security" in identities:
        started = time.monotonic()
        psb = identities["public-security"]
        psb.get(url + "/console/")
        psb.click_link("本部门共享数据")
        good = args.csv_subjects.split(",")
        handle, path = tempfile.mkstemp(suffix=".csv")
        with os.fdopen(handle, "w") as f:
            f.write(f"subjectId,hasCriminalRecord\r\n{good[0]},false\r\n110105198001011234,maybe\r\n{good[1]},true\r\n")
        Select(psb.driver.find_element(By.ID, "uploadType")).select_by_value("PSB-NO-CRIMINAL-RECORD")
        psb.driver.find_element(By.ID, "csvFile").send_keys(path)
        WebDriverWait(psb.driver, 5).until(lambda d: good[1] in d.find_element(By.ID, "csv").get_attribute("value"))
        psb.submit("form[action='/console/records/upload'] button[type=submit]")
        rows = psb.driver.find_elements(By.CSS_SELECTOR, "table.csv-problems tr[data-line]")
        check([row.get_attribute("data-line") for row in rows] == ["3"], f"line 3's problem shown: {psb.text()[:400]}")
        psb.shot(shots, "records-csv-422")
        psb.type("csv", f"subjectId,hasCriminalRecord\n{good[0]},false\n{good[1]},true\n")
        psb.submit("form[action='/console/records/upload'] button[type=submit]")
        check("已写入 2 条" in psb.text(), f"the corrected CSV is written: {psb.text()[:300]}")
        os.remove(path)
        seconds["csv"] = round(time.monotonic() - started, 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--identity", action="append", default=[])
    parser.add_argument("--foreign", required=True)
    parser.add_argument("--screenshots")
    parser.add_argument("--csv-subjects", default="")
    args = parser.parse_args()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    pairs = {}
    for entry in args.identity:
        name, files = entry.split("=", 1)
        pairs[name] = files.split(",")
    pairs["foreign"] = args.foreign.split(",")
    identities = {}
    seconds = {}
    started = time.monotonic()
    try:
        write_policy(sorted({issuer_cn(cert) for cert, _ in pairs.values()}))
        for name, (cert, key) in pairs.items():
            identities[name] = Browser(name, cert, key, args.ca)
        seconds["start"] = round(time.monotonic() - started, 2)
        verification = story(args, identities, args.screenshots, seconds)
        owner_story(args, identities, args.screenshots, seconds)
        seconds["total"] = round(time.monotonic() - started, 2)
        print(json.dumps({"ok": True, "verification": verification, "seconds": seconds}))
        return 0
    except Exception as error:  # reported to the Swift test, which fails
        print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}", "seconds": seconds}))
        return 1
    finally:
        for browser in identities.values():
            browser.quit()
        if os.path.exists(POLICY_FILE):
            os.remove(POLICY_FILE)


if __name__ == "__main__":
    sys.exit(main())
