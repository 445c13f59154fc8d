#!/usr/bin/env python3
"""testssl.sh against a live heyan, judged from its JSON findings (docs/tls.md).

    check.py HOST:PORT [--json OUT.json]   run testssl.sh (protocols, cipher categories,
                                           vulnerabilities) and judge the result
    check.py --evaluate FINDINGS.json      judge a saved run only (no network)

Exit status 0 when the profile passes, 1 when any finding fails, 2 when testssl.sh did not run.

A finding fails when testssl.sh rates it LOW, MEDIUM, HIGH or CRITICAL: an obsolete protocol or
cipher category offered, or anything reported (potentially) vulnerable. WARN findings are checks
testssl.sh could not make; the ones a server that requires a client certificate always produces
are listed in NOT_TESTABLE (Debian's testssl.sh 3.0 has no --mtls to present one), any other WARN
fails, as does a missing category or vulnerability check.
"""
import json
import os
import subprocess
import sys
import tempfile

FAILING = {"LOW", "MEDIUM", "HIGH", "CRITICAL", "FATAL"}

# Checks testssl.sh 3.0 cannot make against a server that demands a client certificate (it has no
# way to present one). docs/tls.md says why each is covered otherwise.
NOT_TESTABLE = {
    "secure_client_renego": "client x509-based authentication prevents this from being tested",
    "BREACH": "client x509-based authentication prevents this from being tested",
}

# Every one of these must be present in the run, so a check that silently stopped running fails.
REQUIRED = [
    "SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3",
    "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
    "cipherlist_3DES_IDEA", "cipherlist_AVERAGE", "cipherlist_STRONG",
    "heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego", "CRIME_TLS", "POODLE_SSL",
    "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4",
]

# What heyan's profile must look like beyond "nothing failing": TLS 1.2 and 1.3 on, every older
# protocol and every category other than AEAD off.
EXPECTED = {
    "SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered", "TLS1_1": "not offered",
    "TLS1_2": "offered", "TLS1_3": "offered with final",
    "cipherlist_NULL": "not offered", "cipherlist_aNULL": "not offered",
    "cipherlist_EXPORT": "not offered", "cipherlist_LOW": "not offered",
    "cipherlist_3DES_IDEA": "not offered", "cipherlist_AVERAGE": "not offered",
    "cipherlist_STRONG": "offered",
}


def evaluate(findings):
    """Returns the list of failures (empty: the profile passes)."""
    failures = []
    by_id = {}
    for finding in findings:
        by_id.setdefault(finding["id"], finding)
        identifier, severity, text = finding["id"], finding.get("severity", ""), finding.get("finding", "")
        if identifier == "scanProblem" or severity in FAILING:
            failures.append(f"{identifier} [{severity}] {text}")
        elif severity == "WARN" and NOT_TESTABLE.get(identifier) != text:
            failures.append(f"{identifier} [WARN] {text}")
    for identifier in REQUIRED:
        if identifier not in by_id:
            failures.append(f"{identifier} missing from the run")
    for identifier, expected in EXPECTED.items():
        finding = by_id.get(identifier)
        if finding is not None and finding.get("finding") != expected:
            failures.append(f"{identifier}: expected '{expected}', found '{finding.get('finding')}'")
    return failures


def summary(findings):
    wanted = set(REQUIRED) | set(NOT_TESTABLE)
    return "\n".join(
        f"  {f['id']:<22} {f.get('severity', ''):<8} {f.get('finding', '')}" for f in findings if f["id"] in wanted)


def run(target, json_out):
    command = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--openssl-timeout", "10",
               "--protocols", "--std", "--vulnerable", "--jsonfile", json_out, target]
    if os.path.exists(json_out):
        os.remove(json_out)  # testssl.sh refuses to overwrite
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if not os.path.exists(json_out) or os.path.getsize(json_out) == 0:
        print(completed.stdout)
        print(f"testssl.sh wrote no findings (exit {completed.returncode})")
        sys.exit(2)
    with open(json_out) as handle:
        return json.load(handle)


def main(argv):
    if len(argv) >= 2 and argv[0] == "--evaluate":
        with open(argv[1]) as handle:
            findings = json.load(handle)
    elif len(argv) >= 1:
        json_out = argv[argv.index("--json") + 1] if "--json" in argv else None
        with tempfile.TemporaryDirectory(prefix="heyan-testssl") as directory:
            findings = run(argv[0], json_out or os.path.join(directory, "findings.json"))
    else:
        print(__doc__)
        return 2
    print(summary(findings))
    failures = evaluate(findings)
    for failure in failures:
        print("FAIL", failure)
    print("testssl.sh profile:", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
