#!/usr/bin/env python3
"""A C2SP tlog-tiles client, written from the specification's text (c2sp.org/tlog-tiles v0.1 and
RFC 6962 §2.1), not from heyan's code: it reads a log only through `<prefix>/checkpoint`,
`<prefix>/tile/<L>/<N>[.p/<W>]` and `<prefix>/tile/entries/<N>[.p/<W>]` over mTLS.

  tlog_tiles.py --port P --cert C --key K --ca CA --vkey VKEY [--prefix /v1/audit/log] --index I

1. Fetches the checkpoint and verifies it as a signed note with VKEY (tlog_check.verify_note).
2. Recomputes the checkpoint's root from tiles alone: the tree of size s is split into its complete
   subtrees (largest first); a subtree of height h is read from the tile at level L = h // 8 and,
   when h is not a multiple of 8, hashed up from the 2^(h mod 8) tile hashes it covers.
3. Fetches every entry bundle and checks that each entry's leaf hash SHA-256(0x00 ‖ entry) is the
   level-0 tile's hash at that index.
4. Builds the RFC 6962 inclusion proof (PATH) of leaf I from tiles and verifies it with the RFC 9162
   algorithm against the root (tlog_check.verify_inclusion), then again with one bit flipped.

Prints one JSON object: size, root, rootFromTiles, entries (how many checked), entriesMatch, index,
inclusion (base64 list), inclusionVerifies, flippedVerifies, leafData (base64), fetched (paths).
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlog_check  # noqa: E402  (the RFC 9162 verifiers and the signed-note check)

TILE_WIDTH = 256


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def encode_index(n):
    """N as zero-padded 3-digit elements, all but the last prefixed with x: 1234067 -> x001/x234/067."""
    groups = []
    while True:
        groups.insert(0, "%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


class Log:
    def __init__(self, args):
        context = ssl.create_default_context(cafile=args.ca)
        context.load_cert_chain(args.cert, args.key)
        context.check_hostname = False
        self.connection = http.client.HTTPSConnection("127.0.0.1", args.port, context=context, timeout=30)
        self.prefix = args.prefix
        self.fetched = []
        self.cache = {}

    def get(self, path):
        self.connection.request("GET", self.prefix + "/" + path)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, response.status, body[:200]))
        self.fetched.append(path)
        return response, body

    def tile(self, level, n, size):
        """The tile at (level, n) as wide as a tree of `size` has it: full, or partial of width W."""
        available = size // (TILE_WIDTH ** level) - n * TILE_WIDTH
        width = min(TILE_WIDTH, available)
        if width <= 0:
            raise RuntimeError("tile %d/%d is not in a tree of size %d" % (level, n, size))
        path = "tile/%d/%s" % (level, encode_index(n)) + ("" if width == TILE_WIDTH else ".p/%d" % width)
        if path not in self.cache:
            response, body = self.get(path)
            if response.getheader("Content-Type") != "application/octet-stream":
                raise RuntimeError("%s: Content-Type %s" % (path, response.getheader("Content-Type")))
            if len(body) != 32 * width:
                raise RuntimeError("%s: %d bytes, not %d hashes" % (path, len(body), width))
            self.cache[path] = ([body[i : i + 32] for i in range(0, len(body), 32)], response)
        return self.cache[path][0]

    def subtree(self, height, index, size):
        """MTH of the complete subtree of 2^height leaves number `index`, from tiles only."""
        level, below = divmod(height, 8)
        span = 1 << below  # tile hashes under this subtree
        first = index * span  # its first hash at tile level `level`
        hashes = self.tile(level, first // TILE_WIDTH, size)[first % TILE_WIDTH : first % TILE_WIDTH + span]
        while len(hashes) > 1:
            hashes = [node(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def range_hash(self, begin, end, size):
        """MTH(D[begin:end]) (RFC 6962 §2.1): a complete aligned subtree from tiles, else split at k."""
        n = end - begin
        if n & (n - 1) == 0 and begin % n == 0:
            return self.subtree(n.bit_length() - 1, begin // n, size)
        k = 1 << ((n - 1).bit_length() - 1)
        return node(self.range_hash(begin, begin + k, size), self.range_hash(begin + k, end, size))

    def path(self, m, begin, end, size):
        """RFC 6962 §2.1.1 PATH(m, D[begin:end])."""
        n = end - begin
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return self.path(m, begin, begin + k, size) + [self.range_hash(begin + k, end, size)]
        return self.path(m - k, begin + k, end, size) + [self.range_hash(begin, begin + k, size)]

    def entries(self, n, width):
        path = "tile/entries/%s" % encode_index(n) + ("" if width == TILE_WIDTH else ".p/%d" % width)
        _, body = self.get(path)
        out, offset = [], 0
        while offset < len(body):
            length = int.from_bytes(body[offset : offset + 2], "big")
            out.append(body[offset + 2 : offset + 2 + length])
            offset += 2 + length
        if len(out) != width:
            raise RuntimeError("%s: %d entries, not %d" % (path, len(out), width))
        return out


def main():
    parser = argparse.ArgumentParser()
    for name in ("--cert", "--key", "--ca", "--vkey"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--prefix", default="/v1/audit/log")
    args = parser.parse_args()
    log = Log(args)

    _, note = log.get("checkpoint")
    note = note.decode()
    verdict = tlog_check.verify_note(args.vkey, note)
    if verdict != "ok":
        raise RuntimeError("checkpoint: " + verdict)
    lines = note.split("\n")
    size, root = int(lines[1]), base64.b64decode(lines[2])

    # The root from tiles: complete subtrees of the binary decomposition of size, folded from the right.
    peaks, start = [], 0
    for height in range(63, -1, -1):
        if size >> height & 1:
            peaks.append(log.subtree(height, start >> height, size))
            start += 1 << height
    computed = peaks.pop()
    while peaks:
        computed = node(peaks.pop(), computed)

    # Entry bundles against the level-0 tiles.
    matches, checked, leaf_data = True, 0, None
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        bundle = log.entries(n, width)
        tile = log.tile(0, n, size)
        for i, entry in enumerate(bundle):
            matches = matches and leaf_hash(entry) == tile[i]
            checked += 1
            if n * TILE_WIDTH + i == args.index:
                leaf_data = entry

    proof = log.path(args.index, 0, size, size)
    leaf = log.tile(0, args.index // TILE_WIDTH, size)[args.index % TILE_WIDTH]
    verifies = tlog_check.verify_inclusion(leaf, args.index, size, proof, root)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:] if proof else proof
    flipped_verifies = tlog_check.verify_inclusion(leaf, args.index, size, flipped, root) if proof else True

    print(json.dumps({
        "size": size,
        "root": base64.b64encode(root).decode(),
        "rootFromTiles": base64.b64encode(computed).decode(),
        "entries": checked,
        "entriesMatch": matches,
        "index": args.index,
        "inclusion": [base64.b64encode(h).decode() for h in proof],
        "inclusionVerifies": verifies,
        "flippedVerifies": flipped_verifies,
        "leafData": base64.b64encode(leaf_data or b"").decode(),
        "fetched": log.fetched,
    }))


if __name__ == "__main__":
    main()
