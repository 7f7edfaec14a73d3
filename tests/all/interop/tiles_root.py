#!/usr/bin/env python3
"""Recomputes a tlog-tiles log's tree from the tiles alone, written from
the C2SP texts (tlog-tiles, tlog-checkpoint, signed-note) and RFC 9162
section 2.1, sharing no code with cfr.

usage: tiles_root.py ENDPOINT BUCKET PREFIX RECORDER_KEY ORIGIN [SIZE...]

ENDPOINT is an S3-compatible server (read with boto3, credentials from the
standard AWS_* variables), PREFIX the log's prefix in BUCKET,
RECORDER_KEY `ed25519:<base64>`. Fetches
`checkpoint`, verifies its Ed25519 signature under ORIGIN's key name,
reads every level-0 tile and entry bundle, checks each entry's leaf hash
SHA-256(0x00 || entry) against its tile, checks every tile above level 0
(hash i of tile N at level L is the tree hash of the full tile 256 N + i
at level L - 1), and computes the RFC 9162 root of the leaves. Prints one
JSON object: the checkpoint's size and root, the recomputed root, and the
root at each SIZE asked for. Exits 1 on any mismatch.
"""

import base64
import hashlib
import json
import sys
import boto3
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.exit(1)


class Bucket:
    def __init__(self, endpoint, bucket, prefix):
        self.s3 = boto3.client("s3", endpoint_url=endpoint)
        self.bucket, self.prefix = bucket, prefix.strip("/")

    def get(self, name):
        try:
            r = self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}")
            return r["Body"].read()
        except ClientError as e:
            fail(f"{name}: {e}")


def sha256(b):
    return hashlib.sha256(b).digest()


def mth(hashes):
    """RFC 9162 2.1.1 over already-hashed leaves (or subtrees)."""
    n = len(hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:]))


def tile_path(level, n, width):
    """C2SP tlog-tiles: zero-padded groups of three digits, x-prefixed
    but the last; `.p/<W>` for a partial tile."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    path = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    suffix = "" if width == 256 else f".p/{width}"
    return f"tile/{level}/{path}{suffix}"


def verify_note(note, key_b64, origin):
    """C2SP signed-note: text, a blank line, signature lines
    `— <name> <base64(key id || signature)>`; the Ed25519 key id is the
    first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    text = note.decode("utf-8")
    sep = text.rfind("\n\n")
    if sep < 0:
        fail("checkpoint: no blank line before the signatures")
    body = text[: sep + 1]
    sigs = text[sep + 2:].splitlines()
    raw_key = base64.b64decode(key_b64)
    key_id = sha256(origin.encode() + b"\n\x01" + raw_key)[:4]
    pub = Ed25519PublicKey.from_public_bytes(raw_key)
    ok = False
    for line in sigs:
        if not line.startswith("\u2014 "):
            fail(f"checkpoint: bad signature line {line!r}")
        name, _, blob = line[2:].rpartition(" ")
        blob = base64.b64decode(blob)
        if name != origin or blob[:4] != key_id:
            continue
        try:
            pub.verify(blob[4:], body.encode())
            ok = True
        except InvalidSignature:
            fail("checkpoint: the recorder's signature does not verify")
    if not ok:
        fail("checkpoint: no signature by the recorder key under the origin")
    lines = body.split("\n")
    if lines[0] != origin:
        fail(f"checkpoint: origin {lines[0]!r}, expected {origin!r}")
    return int(lines[1]), base64.b64decode(lines[2])


def main():
    base = Bucket(sys.argv[1], sys.argv[2], sys.argv[3])
    key, origin = sys.argv[4], sys.argv[5]
    sizes = [int(s) for s in sys.argv[6:]]
    if not key.startswith("ed25519:"):
        fail("the key must be ed25519:<base64>")
    size, root = verify_note(base.get("checkpoint"), key[len("ed25519:"):], origin)

    leaves = []
    for n in range((size + 255) // 256):
        width = min(256, size - 256 * n)
        tile = base.get(tile_path(0, n, width))
        if len(tile) != 32 * width:
            fail(f"{tile_path(0, n, width)}: {len(tile)} bytes for {width} hashes")
        name = tile_path("entries", n, width)
        bundle = base.get(name)
        at, i = 0, 0
        while at < len(bundle):
            if at + 2 > len(bundle):
                fail(f"{name}: cut short")
            length = int.from_bytes(bundle[at:at + 2], "big")
            entry = bundle[at + 2:at + 2 + length]
            if len(entry) != length or i >= width:
                fail(f"{name}: cut short or too many entries")
            leaf = sha256(b"\x00" + entry)
            if leaf != tile[32 * i:32 * i + 32]:
                fail(f"{name}: entry {256 * n + i} does not hash to its tile hash")
            leaves.append(leaf)
            at += 2 + length
            i += 1
        if i != width:
            fail(f"{name}: {i} entries for {width}")

    # Every level above 0: each hash is the tree hash of a full tile below.
    level, below = 1, leaves
    while size >= 256 ** level:
        hashes = []
        count = size // 256 ** level
        for n in range((count + 255) // 256):
            width = min(256, count - 256 * n)
            name = tile_path(level, n, width)
            tile = base.get(name)
            if len(tile) != 32 * width:
                fail(f"{name}: {len(tile)} bytes for {width} hashes")
            for i in range(width):
                full = below[(256 * n + i) * 256:(256 * n + i + 1) * 256]
                if tile[32 * i:32 * i + 32] != mth(full):
                    fail(f"{name}: hash {i} is not the tree hash of the tile below")
                hashes.append(tile[32 * i:32 * i + 32])
        level, below = level + 1, hashes

    computed = mth(leaves)
    print(json.dumps({
        "size": size,
        "root": root.hex(),
        "computed": computed.hex(),
        "roots_at": {str(s): mth(leaves[:s]).hex() for s in sizes},
    }))
    sys.exit(0 if computed == root else 1)


main()
