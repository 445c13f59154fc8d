#!/usr/bin/env python3
"""An outside check of heyan's transparency log, written from the RFC 9162 and C2SP texts (not
from heyan's code): roots by pymerkle (an independent RFC 6962 implementation), inclusion and
consistency proofs by the RFC 9162 §2.1.3.2 / §2.1.4.2 algorithms, checkpoints as C2SP signed notes
verified with `cryptography`'s Ed25519.

Reads JSON lines on stdin, writes one verdict line ("ok" or "fail: why") per input line:
  {"kind": "root", "leaves": [b64 entry bytes…], "root": b64}
  {"kind": "inclusion", "leafHash": b64, "index": i, "size": n, "proof": [b64…], "root": b64}
  {"kind": "consistency", "first": m, "second": n, "firstRoot": b64, "secondRoot": b64, "proof": [b64…]}
  {"kind": "note", "vkey": "name+hex+b64", "note": "text\n\n— name sig\n"}
  {"kind": "bundle", "vkey": "name+hex+b64", "bundle": "c2sp.org/tlog-proof@v1\n…", "attestation": id}

A bundle (C2SP tlog-proof@v1, heyan's GET /v1/attestations/{id}/proof) is checked as a holder
would: the checkpoint note with the vkey, the leaf data recomputed from `extra` (salt ‖ canonical
entry, or salt ‖ previous hash ‖ entry for entries from before the tree: docs/transparency-log.md),
the inclusion path to the checkpoint's root, and the entry naming the attestation.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf_hash, index, size, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    if first == 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def pymerkle_root(leaves):
    from pymerkle import InmemoryTree

    tree = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree.get_root(len(leaves)) if leaves else hashlib.sha256(b"").digest()


def verify_note(vkey, note):
    name, key_id_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64, validate=True)
    if key[0] != 0x01 or len(key) != 33:
        return "fail: not an Ed25519 vkey"
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if key_id.hex() != key_id_hex:
        return "fail: key id does not match the key"
    if not note.endswith("\n"):
        return "fail: no final newline"
    split = note.rfind("\n\n")
    if split < 0:
        return "fail: no blank line"
    text, sigs = note[: split + 1], note[split + 2 :]
    public = Ed25519PublicKey.from_public_bytes(key[1:])
    verified = 0
    for line in sigs.rstrip("\n").split("\n"):
        dash, sig_name, blob = line.split(" ")
        if dash != "\u2014":
            return "fail: bad signature line"
        raw = base64.b64decode(blob, validate=True)
        if sig_name != name or raw[:4] != key_id:
            continue  # unknown keys are ignored
        try:
            public.verify(raw[4:], text.encode())
        except InvalidSignature:
            return "fail: signature does not verify"
        verified += 1
    if verified == 0:
        return "fail: no signature by the key"
    lines = text.split("\n")
    if len(lines) != 4 or lines[0] != name or str(int(lines[1])) != lines[1]:
        return "fail: not a checkpoint of this origin"
    if len(base64.b64decode(lines[2], validate=True)) != 32:
        return "fail: root is not 32 bytes"
    return "ok"


def verify_bundle(vkey, bundle, attestation):
    lines = bundle.split("\n")
    blank = lines.index("")
    head, note = lines[:blank], "\n".join(lines[blank + 1:])
    if head[0] != "c2sp.org/tlog-proof@v1":
        return "fail: not a tlog-proof@v1 bundle"
    rest = head[1:]
    extra = b""
    if rest and rest[0].startswith("extra "):
        extra = base64.b64decode(rest[0][6:], validate=True)
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        return "fail: no index line"
    index = int(rest[0][6:])
    path = [base64.b64decode(line, validate=True) for line in rest[1:]]
    verdict = verify_note(vkey, note)
    if verdict != "ok":
        return verdict
    text = note[: note.rfind("\n\n") + 1].split("\n")
    size, root = int(text[1]), base64.b64decode(text[2], validate=True)
    salt = extra[:32]
    candidates = [(extra[32:], hashlib.sha256(extra).digest())]
    if len(extra) > 64:
        candidates.append((extra[64:], hashlib.sha256(salt + hashlib.sha256(extra[32:]).digest()).digest()))
    for entry, d in candidates:
        if verify_inclusion(hashlib.sha256(b"\x00" + d).digest(), index, size, path, root):
            try:
                named = json.loads(entry).get("attestation")
            except ValueError:
                return "fail: the entry is not JSON"
            return "ok" if named == attestation else "fail: the entry names another attestation"
    return "fail: proof does not verify"


def b64(text):
    return base64.b64decode(text, validate=True)


def check(request):
    kind = request["kind"]
    if kind == "root":
        return pymerkle_root([b64(x) for x in request["leaves"]]) == b64(request["root"])
    if kind == "inclusion":
        return verify_inclusion(b64(request["leafHash"]), request["index"], request["size"],
                                [b64(p) for p in request["proof"]], b64(request["root"]))
    if kind == "consistency":
        return verify_consistency(request["first"], request["second"], b64(request["firstRoot"]),
                                  b64(request["secondRoot"]), [b64(p) for p in request["proof"]])
    if kind == "note":
        return verify_note(request["vkey"], request["note"])
    if kind == "bundle":
        return verify_bundle(request["vkey"], request["bundle"], request.get("attestation"))
    raise ValueError("unknown kind " + kind)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            verdict = check(json.loads(line))
        except (ValueError, IndexError, KeyError) as error:  # a damaged input is a failure, not a crash
            verdict = "fail: unreadable: %s" % error
        if verdict is True:
            verdict = "ok"
        elif verdict is False:
            verdict = "fail: proof does not verify"
        print(verdict, flush=False)


if __name__ == "__main__":
    main()
