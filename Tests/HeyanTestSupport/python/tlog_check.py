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
    raise ValueError("unknown kind " + kind)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        verdict = check(json.loads(line))
        if verdict is True:
            verdict = "ok"
        elif verdict is False:
            verdict = "fail: proof does not verify"
        print(verdict, flush=False)


if __name__ == "__main__":
    main()
