"""Cross-node long-poll wake-up, for the bench's `pg` phase (docs/performance.md, "PostgreSQL").

One sample: housing-fund submits a department verification (CIV-MARRIAGE, 202 pending) through node B,
civil-affairs leases its queue item through node B; then housing-fund long-polls
`GET /v1/verifications/{id}?wait=S` on node A (another thread) while civil-affairs answers the item through
node B. The figure is wake − acknowledgement: when node A's long-poll response arrived minus when node B's
200 to the answer arrived (both read in this process with one monotonic clock). Node B sends its 200 only
after COMMIT returned, and node A learns of the commit through PostgreSQL's NOTIFY, so the difference may be
slightly negative. Nodes are paired round-robin (A = i, B = i + 1).

Standard library only; one keep-alive mTLS connection per department and node, with the dev PKI.
"""

from __future__ import annotations

import http.client
import json
import ssl
import statistics
import threading
import time

from crashtest import resident_id  # Tests/Scripts on sys.path (run.py puts it there)

QUEUE_TYPE, QUEUE_MATTER = "CIV-MARRIAGE", "HF-WITHDRAW-001"
REQUESTER, OWNER = "housing-fund", "civil-affairs"
# The long poll is registered on node A before the answer is sent through node B.
POLL_HEAD_START = 0.05


class WakeError(Exception):
    pass


class DepartmentConnection:
    """One department's keep-alive mTLS connection to one node."""

    def __init__(self, pki, department: str, port: int, timeout: float):
        context = ssl.create_default_context(cafile=f"{pki}/ca.pem")
        context.check_hostname = False
        context.load_cert_chain(f"{pki}/departments/{department}.pem", f"{pki}/departments/{department}.key")
        self.connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
        self.name = f"{department}@{port}"

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        text = response.read()
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = {"raw": text[:300].decode(errors="replace")}
        return response.status, data

    def expect(self, status: int, method: str, path: str, body: dict | None = None) -> dict:
        got, data = self.request(method, path, body)
        if got != status:
            raise WakeError(f"{self.name} {method} {path}: {got} {str(data)[:300]}")
        return data

    def close(self) -> None:
        self.connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def measure(pki, ports: list[int], samples: int, wait_seconds: int = 10) -> dict:
    """`samples` wake-ups across `ports` (at least two nodes); milliseconds, and every sample's figures."""
    if len(ports) < 2:
        raise WakeError("a cross-node wake-up needs two nodes")
    timeout = wait_seconds + 20
    requester = {p: DepartmentConnection(pki, REQUESTER, p, timeout) for p in ports}
    owner = {p: DepartmentConnection(pki, OWNER, p, timeout) for p in ports}
    try:
        for connection in [*requester.values(), *owner.values()]:  # handshakes before the first sample
            connection.expect(200, "GET", "/healthz")
        deltas, missed, foreign, repolls = [], 0, 0, 0
        for i in range(samples):
            a, b = ports[i % len(ports)], ports[(i + 1) % len(ports)]
            submitted = requester[b].expect(202, "POST", "/v1/verifications", {
                "certificateType": QUEUE_TYPE, "matterCode": QUEUE_MATTER, "purpose": "住房公积金提取：长轮询唤醒测量",
                "subject": {"idType": "resident-id", "id": resident_id(i, "320102"), "name": "张三"},
                "claims": {"maritalStatus": "married"}})
            verification = submitted["id"]
            item = None
            for _ in range(100):  # items left by earlier runs are answered too, until ours comes
                leased = owner[b].expect(200, "GET", "/v1/queue?limit=1&lease=60&wait=5")["items"]
                if not leased:
                    continue
                if leased[0]["verification"]["id"] == verification:
                    item = leased[0]
                    break
                foreign += 1
                owner[b].expect(200, "POST", f"/v1/queue/{leased[0]['id']}/answer",
                                {"leaseToken": leased[0]["leaseToken"], "outcome": "confirmed"})
            if item is None:
                raise WakeError(f"verification {verification}'s queue item was never leased")

            woke: dict = {"polls": 0}

            def poll() -> None:
                """As a client waits: `?wait=` again while the answer is not there (a long poll also ends
                early on other changes of the verification, such as its lease)."""
                deadline = time.monotonic() + wait_seconds
                try:
                    while True:
                        left = max(1, int(deadline - time.monotonic()))
                        data = requester[a].expect(200, "GET", f"/v1/verifications/{verification}?wait={left}")
                        woke["polls"] += 1
                        if data.get("status") == "answered" or time.monotonic() >= deadline:
                            woke["data"], woke["at"] = data, time.monotonic()
                            return
                except Exception as error:  # reported by the main thread
                    woke["error"] = error

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            time.sleep(POLL_HEAD_START)
            owner[b].expect(200, "POST", f"/v1/queue/{item['id']}/answer",
                            {"leaseToken": item["leaseToken"], "outcome": "confirmed"})
            acknowledged = time.monotonic()
            poller.join(timeout=timeout)
            if "error" in woke:
                raise WakeError(f"long poll on {a}: {woke['error']}")
            if woke.get("data", {}).get("status") != "answered":
                missed += 1  # the wait ended (or the thread hung) without the answer: no wake-up
                continue
            deltas.append((woke["at"] - acknowledged) * 1000)
            repolls += woke["polls"] - 1
    finally:
        for connection in [*requester.values(), *owner.values()]:
            connection.close()
    return {
        "samples": samples, "woken": len(deltas), "missed": missed, "foreignItemsAnswered": foreign,
        "pollsEndedEarly": repolls,
        "waitSeconds": wait_seconds, "pollHeadStartMs": POLL_HEAD_START * 1000, "nodes": len(ports),
        "p50Ms": statistics.median(deltas) if deltas else None,
        "p99Ms": percentile(deltas, 0.99) if deltas else None,
        "minMs": min(deltas) if deltas else None, "maxMs": max(deltas) if deltas else None,
        "deltasMs": [round(d, 3) for d in deltas],
    }
