#!/usr/bin/env python3
"""Generates heyan's Python client with openapi-python-client and drives the README flow through it.

    generated_client.py --spec schemas/openapi.yaml --config schemas/openapi-python-client.yaml \
        --out DIR [--base-url https://127.0.0.1:PORT --ca CA.pem \
                   --department CODE=CERT.pem,KEY.pem ...]

1. Runs `openapi-python-client generate --fail-on-warning` (the one installed beside this
   Python) into DIR/heyan-client. Any warning or error fails: the generator drops a schema or a
   response it cannot model and says so only as a warning.
2. Checks the generated package against the spec: a module per operation, and in it a branch
   `response.status_code == N` for every documented status. Prints one line per gap.
3. With --base-url, imports the generated `heyan_client` and plays docs/client.md's flow (the
   README's "whole flow") against a running heyan, each department with its own certificate:
   data-sharing submit (201), queued submit (202), lease, answer, the attestation fetched and
   verified with verify_attestation.py (joserfc + cryptography), revocation, audit query,
   commitment with its spot check, complaint. Every call goes through the generated client and
   every body is checked to be the typed model the spec promises.

Prints "generated: N operations, M responses", then "ok <step>" per step and
"flow: N steps"; exits 1 with the reason on the first failure.
"""
import argparse
import datetime
import hashlib
import importlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class Failure(Exception):
    pass


def snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def generate(spec_path, config_path, out):
    """Runs the generator; returns its output. Raises Failure on a warning or an error."""
    bindir = os.path.dirname(sys.executable)
    environment = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    target = os.path.join(out, "heyan-client")
    shutil.rmtree(target, ignore_errors=True)
    command = [os.path.join(bindir, "openapi-python-client"), "generate", "--path", spec_path,
               "--output-path", target, "--fail-on-warning"]
    if config_path:
        command += ["--config", config_path]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    output = (result.stdout + result.stderr).strip()
    noise = [line for line in output.splitlines() if re.search(r"warning|error|skipping|unable|cannot", line, re.I)]
    if result.returncode != 0 or noise:
        raise Failure("openapi-python-client exited %d with warnings or errors:\n%s" % (result.returncode, output))
    return target


def check_completeness(spec, target):
    """Every operation has its module, every documented status its branch. Returns (ops, responses)."""
    gaps = []
    operations = responses = 0
    package = os.path.join(target, "heyan_client", "api")
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            operations += 1
            tag = snake(operation["tags"][0]).replace("-", "_")
            module = os.path.join(package, tag, snake(operation["operationId"]) + ".py")
            if not os.path.exists(module):
                gaps.append("%s %s: no module %s" % (method.upper(), path, os.path.relpath(module, target)))
                continue
            with open(module, encoding="utf-8") as f:
                text = f.read()
            for status in operation["responses"]:
                responses += 1
                if "response.status_code == %s" % status not in text:
                    gaps.append("%s %s: response %s missing from the generated client" % (method.upper(), path, status))
    # A member the generator could not model (a oneOf of bare `required` lists, say) silently
    # becomes `Any`: a client that checks nothing there.
    models = os.path.join(target, "heyan_client", "models")
    for name in sorted(os.listdir(models)):
        with open(os.path.join(models, name), encoding="utf-8") as f:
            for line in f:
                if re.match(r"    (?!additional_properties)\w+: Any\b", line):
                    gaps.append("models/%s: untyped member %s" % (name, line.strip()))
    if gaps:
        raise Failure("the generated client is incomplete:\n" + "\n".join(gaps))
    return operations, responses


def resident_id(number):
    """A valid resident ID (GB 11643) for subject `number`: 110105 19800101 NNN + check character."""
    body = "11010519800101%03d" % (number % 1000)
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


class Flow:
    def __init__(self, arguments):
        sys.path.insert(0, os.path.join(arguments.out, "heyan-client"))
        importlib.invalidate_caches()
        self.api = importlib.import_module("heyan_client.api")
        self.models = importlib.import_module("heyan_client.models")
        self.client_module = importlib.import_module("heyan_client")
        self.ca = arguments.ca
        self.clients = {}
        for entry in arguments.department:
            code, files = entry.split("=", 1)
            certificate, key = files.split(",", 1)
            context = ssl.create_default_context(cafile=arguments.ca)
            context.load_cert_chain(certificate, key)
            self.clients[code] = self.client_module.Client(
                base_url=arguments.base_url, verify_ssl=context, raise_on_unexpected_status=True)
        self.steps = 0

    def call(self, operation, department, expected_status, expected_type, **kwargs):
        """Calls `operation` (e.g. "verifications.submit_verification") as `department`; returns
        the parsed body after checking the status and that it is an `expected_type` instance."""
        tag, name = operation.split(".")
        module = importlib.import_module("heyan_client.api.%s.%s" % (tag, name))
        response = module.sync_detailed(client=self.clients[department], **kwargs)
        body = response.parsed
        if int(response.status_code) != expected_status:
            raise Failure("%s as %s: status %d, expected %d: %s" % (
                operation, department, response.status_code, expected_status, response.content[:500]))
        if expected_type is not None and not isinstance(body, getattr(self.models, expected_type)):
            raise Failure("%s as %s: body parsed as %s, expected %s" % (
                operation, department, type(body).__name__, expected_type))
        return body

    def ok(self, step, detail=""):
        self.steps += 1
        print("ok %s%s" % (step, " (%s)" % detail if detail else ""), flush=True)

    def expect(self, condition, message):
        if not condition:
            raise Failure(message)

    def verify_jws(self, jws):
        script = os.path.join(HERE, "verify_attestation.py")
        result = subprocess.run([sys.executable, script, "--ca", self.ca], input=jws + "\n",
                                capture_output=True, text=True, timeout=60)
        verdict = json.loads(result.stdout.splitlines()[0]) if result.stdout else {"ok": False, "error": result.stderr}
        self.expect(verdict.get("ok"), "verify_attestation.py: %s" % verdict.get("error"))
        return verdict["payload"]

    def run(self):
        m = self.models
        subject = resident_id(1)
        person = m.Subject(id_type=m.SubjectIdType.RESIDENT_ID, id=subject, name="张三")

        health = self.call("service.get_health", "housing-fund", 200, "Health")
        self.ok("health", health.status)

        # Data sharing (数据共享): the owner shares a record, a requester is answered at once.
        record = self.call(
            "records.put_record", "public-security", 201, "SharedRecord", type_="PSB-NO-CRIMINAL-RECORD",
            subject_id=subject, body=m.PutRecordRequest(claims=m.ClaimSet.from_dict({"hasCriminalRecord": False})))
        self.ok("record shared", record.certificate_type)
        shared = self.call("verifications.submit_verification", "hrss", 201, "AnsweredVerification", body=m.SubmitVerificationRequest(
            certificate_type="PSB-NO-CRIMINAL-RECORD", matter_code="HR-RECRUIT-001", purpose="事业单位招聘：核验无犯罪记录",
            subject=person, claims=m.ClaimSet.from_dict({"hasCriminalRecord": False})))
        self.expect(shared.status == "answered" and shared.outcome == m.Outcome.CONFIRMED, "data sharing: %r" % shared)
        self.ok("data-sharing submit 201", shared.outcome.value)

        # Department verification (部门核验): queued for civil affairs.
        key = "hf-" + uuid.uuid4().hex
        request = m.SubmitVerificationRequest(
            certificate_type="CIV-MARRIAGE", matter_code="HF-WITHDRAW-001", purpose="住房公积金提取：核验婚姻状况",
            subject=person, claims=m.ClaimSet.from_dict({"maritalStatus": "married"}))
        pending = self.call("verifications.submit_verification", "housing-fund", 202, "PendingVerification",
                            body=request, idempotency_key=key)
        again = self.call("verifications.submit_verification", "housing-fund", 202, "PendingVerification",
                          body=request, idempotency_key=key)
        self.expect(again.id == pending.id, "Idempotency-Key: %s then %s" % (pending.id, again.id))
        self.ok("queued submit 202", "due %s" % pending.due_at.isoformat())

        lease = self.call("queue.lease_queue_items", "civil-affairs", 200, "QueueLease", limit=1, lease=300, wait=5)
        self.expect(len(lease.items) == 1, "lease: %d items" % len(lease.items))
        item = lease.items[0]
        self.expect(isinstance(item, m.LeasedVerification) and item.verification.id == pending.id,
                    "leased %r" % item)
        self.ok("lease", item.id)
        answered = self.call("queue.answer_queue_item", "civil-affairs", 200, "AnsweredVerification", id=item.id,
                             body=m.AnswerQueueItemRequest(
                                 lease_token=item.lease_token, outcome=m.Outcome.CONFIRMED, note="婚姻登记信息系统核对一致",
                                 disclosed=m.ClaimSet.from_dict({"maritalStatus": "married"})))
        self.ok("answer", answered.outcome.value)

        result = self.call("verifications.get_verification", "housing-fund", 200, "AnsweredVerification",
                           id=pending.id, wait=5)
        self.expect(result.attestation.id == answered.attestation.id, "answer and result name other attestations")
        attestation = self.call("attestations.get_attestation", "housing-fund", 200, "VerificationAttestation",
                                id=result.attestation.id)
        self.expect(attestation.status == m.AttestationStatusValue.ACTIVE, "status %s" % attestation.status)
        payload = self.verify_jws(attestation.jws)
        self.expect(payload.get("jti") == attestation.id, "payload jti %s" % payload.get("jti"))
        self.ok("attestation fetched and verified", "jti %s" % payload["jti"])

        # Who may read and who may revoke (docs/api-rules.md): the operator reads it; a department
        # that may not read it gets 404; the requester, who may read but not revoke, 403.
        self.call("attestations.get_attestation", "data-office", 200, "VerificationAttestation", id=attestation.id)
        self.call("attestations.revoke_attestation", "hrss", 404, "Problem",
                  id=attestation.id, body=m.RevokeAttestationRequest(reason="与本部门无关"))
        refused = self.call("attestations.revoke_attestation", "housing-fund", 403, "Problem",
                            id=attestation.id, body=m.RevokeAttestationRequest(reason="不是签发部门"))
        self.ok("revoke by the requester refused", refused.type_)
        revoked = self.call("attestations.revoke_attestation", "civil-affairs", 200, "RevokedAttestation",
                            id=attestation.id, body=m.RevokeAttestationRequest(reason="登记信息更正"))
        status = self.call("attestations.get_attestation_status", "housing-fund", 200, "AttestationStatus",
                           id=attestation.id)
        self.expect(status.status == m.AttestationStatusValue.REVOKED and revoked.revocation_reason == "登记信息更正",
                    "after revocation: %r" % status)
        self.ok("revoke", revoked.revoked_at.isoformat())

        # Audit (auditor): the subject's history and a signed checkpoint.
        page = self.call("audit.list_audit_entries", "audit-office", 200, "AuditPage", subject=subject)
        actions = [entry.action for entry in page.entries]
        for action in ("record.put", "verification.submitted", "verification.answered", "attestation.revoked"):
            self.expect(action in actions, "audit of %s lacks %s: %s" % (subject, action, actions))
        checkpoint = self.call("audit.get_audit_checkpoint", "audit-office", 200, "AuditCheckpoint")
        self.ok("audit query", "%d entries, log size %d" % (len(page.entries), checkpoint.size))

        # Notify-and-commit (告知承诺): commit until one is sampled (rate 0.2), then the spot check.
        sampled = None
        for number in range(2, 82):
            applicant = resident_id(number)
            template = self.call("commitments.get_commitment_template", "housing-fund", 200, "CommitmentTemplate",
                                 code="TAX-INCOME", subject_id=applicant, subject_name="李四")
            self.expect(template.text_sha_256 == hashlib.sha256(template.text.encode()).hexdigest(),
                        "template textSha256 is not the SHA-256 of its text")
            commitment = self.call("commitments.submit_commitment", "housing-fund", 201, "Commitment", body=m.SubmitCommitmentRequest(
                certificate_type="TAX-INCOME", matter_code="HF-LOAN-001", purpose="住房公积金贷款：收入情况",
                subject=m.Subject(id_type=m.SubjectIdType.RESIDENT_ID, id=applicant, name="李四"),
                commitment=m.SubmitCommitmentRequestCommitment(
                    text_sha_256=template.text_sha_256, signed_via=m.SubmitCommitmentRequestCommitmentSignedVia.PAPER,
                    signed_at=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0))))
            if commitment.spot_check.sampled:
                sampled = commitment
                break
        self.expect(sampled is not None, "no commitment of 80 was sampled")
        fetched = self.call("commitments.get_commitment", "housing-fund", 200, "Commitment", id=sampled.id)
        self.expect(fetched.status.value == "under-check", "sampled commitment is %s" % fetched.status)
        self.verify_jws(fetched.receipt.jws)
        self.ok("commitment", "%s sampled after %d" % (sampled.id, number - 1))
        lease = self.call("queue.lease_queue_items", "tax-bureau", 200, "QueueLease", limit=10, wait=5)
        checks = [i for i in lease.items if isinstance(i, m.LeasedSpotCheck) and i.commitment.id == sampled.id]
        self.expect(len(checks) == 1, "tax-bureau's lease: %r" % lease.items)
        checked = self.call("queue.answer_queue_item", "tax-bureau", 200, "CheckedCommitment", id=checks[0].id,
                            body=m.SpotCheckAnswerRequest(lease_token=checks[0].lease_token,
                                                          outcome=m.SpotCheckAnswerRequestOutcome.CONSISTENT))
        self.ok("spot check", checked.status.value)

        # Supervision (监督投诉): a complaint filed, listed and handled by the operator.
        complaint = self.call("complaints.file_complaint", "hrss", 201, "Complaint", body=m.FileComplaintRequest(
            against_department="housing-fund", certificate_demanded="社区证明", description="窗口要求提交社区出具的证明"))
        self.expect(complaint.catalog_standing.value == "unlisted", "standing %s" % complaint.catalog_standing)
        listed = self.call("complaints.list_complaints", "data-office", 200, "ComplaintPage",
                           status=m.ListComplaintsStatus.OPEN)
        self.expect(complaint.id in [c.id for c in listed.complaints], "open complaints lack %s" % complaint.id)
        handled = self.call("complaints.handle_complaint", "data-office", 200, "Complaint", id=complaint.id,
                            body=m.HandleComplaintRequest(reply="已责令改正"))
        self.expect(handled.status.value == "handled", "complaint %s" % handled.status)
        self.ok("complaint", complaint.id)
        print("flow: %d steps" % self.steps, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--config")
    parser.add_argument("--out", required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--ca")
    parser.add_argument("--department", action="append", default=[], metavar="CODE=CERT,KEY")
    arguments = parser.parse_args()
    try:
        with open(arguments.spec, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        target = generate(arguments.spec, arguments.config, arguments.out)
        operations, responses = check_completeness(spec, target)
        print("generated: %d operations, %d responses" % (operations, responses), flush=True)
        if arguments.base_url:
            Flow(arguments).run()
    except Failure as failure:
        print("FAILED: %s" % failure, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
