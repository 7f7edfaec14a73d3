#!/usr/bin/env python3
"""Verify a witness's cosignature/v1 line, and the log's signature, on a
cosigned checkpoint note: written from the C2SP texts (signed-note,
tlog-checkpoint, tlog-cosignature), not from cfr's code.

usage: cosignature_check.py NOTE_FILE WITNESS_NAME WITNESS_KEY LOG_NAME LOG_KEY
(keys as "ed25519:<base64 of the 32 raw bytes>")

Prints "ok witness-key-id=<8 hex> time=<T> log-key-id=<8 hex>" and exits 0
when both verify; exits 1 with the reason otherwise.
"""
import base64
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def raw_key(text):
    if not text.startswith("ed25519:"):
        fail("key must be ed25519:<base64>")
    raw = base64.b64decode(text[len("ed25519:"):], validate=True)
    if len(raw) != 32:
        fail("key is not 32 bytes")
    return raw


def key_id(name, sig_type, raw):
    # signed-note: SHA-256(key name || 0x0A || signature type || key)[:4]
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + raw).digest()[:4]


def main():
    if len(sys.argv) != 6:
        fail(__doc__)
    note = open(sys.argv[1], "rb").read().decode("utf-8")
    w_name, w_key = sys.argv[2], raw_key(sys.argv[3])
    l_name, l_key = sys.argv[4], raw_key(sys.argv[5])
    # signed-note: the text ends at the last blank line; then signature
    # lines "— <name> <base64(key ID || signature)>".
    if not note.endswith("\n"):
        fail("note does not end with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        fail("no blank line")
    body = note[: cut + 1]
    lines = note[cut + 2 :].split("\n")[:-1]
    sigs = []
    for line in lines:
        if not line.startswith("\u2014 "):
            fail("not a signature line: %r" % line)
        name, b64 = line[2:].split(" ", 1)
        sigs.append((name, base64.b64decode(b64, validate=True)))

    # The log's signature: type 0x01, Ed25519 over the note text.
    l_id = key_id(l_name, 0x01, l_key)
    log_sigs = [s for n, s in sigs if n == l_name and s[:4] == l_id]
    if len(log_sigs) != 1:
        fail("no signature by the log's key")
    try:
        Ed25519PublicKey.from_public_bytes(l_key).verify(log_sigs[0][4:], body.encode())
    except InvalidSignature:
        fail("the log's signature does not verify")

    # tlog-cosignature: key ID with type 0x04; then a big-endian u64
    # timestamp and a 64-byte Ed25519 signature over
    # "cosignature/v1\ntime <T>\n" || the checkpoint text.
    w_id = key_id(w_name, 0x04, w_key)
    cosigs = [s for n, s in sigs if n == w_name and s[:4] == w_id]
    if len(cosigs) != 1:
        fail("no cosignature by the witness's key")
    blob = cosigs[0]
    if len(blob) != 4 + 8 + 64:
        fail("cosignature is %d bytes, not 76" % len(blob))
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    if timestamp >= 1 << 63:
        fail("timestamp above 2^63 - 1")
    message = ("cosignature/v1\ntime %d\n" % timestamp).encode() + body.encode()
    try:
        Ed25519PublicKey.from_public_bytes(w_key).verify(blob[12:], message)
    except InvalidSignature:
        fail("the cosignature does not verify")
    print("ok witness-key-id=%s time=%d log-key-id=%s" % (w_id.hex(), timestamp, l_id.hex()))


main()
