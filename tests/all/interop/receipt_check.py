#!/usr/bin/env python3
"""Checks a cfr-receipt/1 independently of cfr's Rust code.

usage: receipt_check.py RECEIPT EVENTS_CBOR RECORDER_KEY

RECEIPT is the receipt (CBOR), EVENTS_CBOR the events as the party sent
them (a CBOR sequence, seq and time unassigned), RECORDER_KEY the
contract's recorder key (ed25519:<base64>).

Written from the texts, not from cfr's code:
- the leaf of an event is SHA-256(0x00 || canonical CBOR of the event with
  the seq and time the receipt gives it) (RFC 9162 section 2.1.1; canonical
  CBOR per RFC 8949 section 4.2.1, here cbor2's canonical encoder);
- the root is the RFC 9162 Merkle Tree Hash, computed by its recursive
  definition over the subtrees the range proof gives (the layout in
  schemas/receipt.cddl: the peaks left of the range, the aligned subtrees
  right of it up to the next peak boundary of the tree, and the root of
  what lies beyond that boundary);
- the checkpoint is a C2SP signed note (tlog-checkpoint): origin, size and
  base64 root lines, a blank line, then signature lines
  "\u2014 <name> <base64(key ID || Ed25519 signature)>", key ID =
  SHA-256(name || 0x0A || 0x01 || public key)[:4].
"""
import base64
import hashlib
import io
import sys

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(why):
    print("receipt does not hold: " + why)
    sys.exit(1)


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(a, b, known):
    """RFC 9162 MTH(D[a:b]), from the subtrees whose hashes are known."""
    if (a, b) in known:
        return known[(a, b)]
    if b - a <= 1:
        raise KeyError("no hash for leaf range [%d, %d)" % (a, b))
    k = largest_power_of_two_below(b - a)
    return node(mth(a, a + k, known), mth(a + k, b, known))


def aligned_pieces(begin, end):
    """[begin, end) as maximal aligned perfect subtrees, left to right."""
    pieces = []
    pos = begin
    while pos < end:
        size = 1
        while pos % (size * 2) == 0 and pos + size * 2 <= end:
            size *= 2
        pieces.append((pos, pos + size))
        pos += size
    return pieces


def left_peaks(begin):
    """[0, begin) as perfect subtrees, largest first."""
    pieces = []
    pos = 0
    for bit in reversed(range(64)):
        if begin & (1 << bit):
            pieces.append((pos, pos + (1 << bit)))
            pos += 1 << bit
    return pieces


def boundary_after(end, size):
    """The first boundary between the peaks of a tree of `size` at or after end."""
    bounds = []
    pos = 0
    for bit in reversed(range(64)):
        if size & (1 << bit):
            bounds.append(pos)
            pos += 1 << bit
    bounds.append(size)
    return min(b for b in bounds if b >= end)


def main():
    receipt = cbor2.loads(open(sys.argv[1], "rb").read())
    data = open(sys.argv[2], "rb").read()
    spec = sys.argv[3]
    assert spec.startswith("ed25519:")
    pub = base64.b64decode(spec[len("ed25519:"):])
    if receipt.get("format") != "cfr-receipt/1":
        fail("format")
    first, count = receipt["first"], receipt["count"]
    entries = receipt["events"]
    if len(entries) != count:
        fail("count")

    # The leaves, from the party's own events.
    decoder = cbor2.CBORDecoder(io.BytesIO(data))
    events = []
    while decoder.fp.tell() < len(data):
        events.append(decoder.decode())
    if len(events) != count:
        fail("%d events sent, %d in the receipt" % (len(events), count))
    leaves = []
    for i, (event, entry) in enumerate(zip(events, entries)):
        if entry["seq"] != first + i:
            fail("seq %d at index %d" % (entry["seq"], i))
        event["seq"] = entry["seq"]
        event["time"] = entry["time"]
        leaf = hashlib.sha256(b"\x00" + cbor2.dumps(event, canonical=True)).digest()
        if leaf != entry["leaf"]:
            fail("event %d: leaf %s, the receipt says %s" % (i, leaf.hex(), entry["leaf"].hex()))
        leaves.append(leaf)

    # The checkpoint: a signed note by the recorder.
    note = receipt["checkpoint"]
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        fail("no blank line in the checkpoint note")
    body += "\n"
    origin, size_text, root_text = body.split("\n")[:3]
    if origin != "cfr/" + receipt["contract"]:
        fail("origin %r" % origin)
    size = int(size_text)
    root = base64.b64decode(root_text)
    name = origin
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4]
    verified = False
    for line in sigs.splitlines():
        dash, _, rest = line.partition(" ")
        line_name, _, b64 = rest.partition(" ")
        if dash != "\u2014" or line_name != name:
            continue
        raw = base64.b64decode(b64)
        if raw[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], body.encode())
            verified = True
        except Exception:
            fail("the recorder's signature on the checkpoint does not verify")
    if not verified:
        fail("no signature line by the recorder's key")

    # The root, from the range proof and the leaves.
    begin, end = first, first + count
    if end > size:
        fail("events beyond the checkpoint's size")
    boundary = boundary_after(end, size)
    ranges = left_peaks(begin) + aligned_pieces(end, boundary)
    if boundary < size:
        ranges.append((boundary, size))
    proof = receipt["proof"]
    if len(proof) != len(ranges):
        fail("a proof of %d hashes where %d are needed" % (len(proof), len(ranges)))
    known = dict(zip(ranges, proof))
    for i, leaf in enumerate(leaves):
        known[(begin + i, begin + i + 1)] = leaf
    computed = mth(0, size, known)
    if computed != root:
        fail("root %s from the proof, the checkpoint signs %s" % (computed.hex(), root.hex()))
    print("receipt holds: seqs %d-%d under the recorder's checkpoint of %d events" % (begin, end - 1, size))


main()
