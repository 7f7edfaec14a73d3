"""A signed submission made without cfr's code: the digest from the design's
section 13 with cbor2's canonical encoding, the COSE_Sign1 with pycose, sent
with urllib. Prints the HTTP status, then the response body.

    python3 pycose_submit.py ADDR USER_KEY.pem CONTRACT_ID SUBMISSION_ID
"""
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request

import cbor2
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat, load_pem_private_key)
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

addr, key_path, contract_id, sub_id = sys.argv[1:5]
with open(key_path, "rb") as f:
    sk = load_pem_private_key(f.read(), None)
d = sk.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
x = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

events = [
    {"kind": "request", "actor": "user",
     "attrs": {"id": "py-1", "op": "get", "object": "invoices/py.pdf"}},
    {"kind": "request", "actor": "user",
     "attrs": {"id": "py-2", "op": "put", "object": "invoices/py2.pdf"}},
]
# Section 13: SHA-256 of the canonical CBOR of {ctx, contract, party, id,
# events: [{kind, actor, attrs}...]}.
signed_form = {"ctx": "cfr-submission/1", "contract": contract_id,
               "party": "user", "id": sub_id, "events": events}
digest = hashlib.sha256(cbor2.dumps(signed_form, canonical=True)).digest()

msg = Sign1Message(phdr={Algorithm: EdDSA}, uhdr={KID: b"pycose"}, payload=None)
msg.key = OKPKey(crv=Ed25519, d=d, x=x)
cose = msg.encode(tag=True, detached_payload=digest)

body = "\n".join(json.dumps(e) for e in events).encode()
req = urllib.request.Request(
    f"http://{addr}/v1/submissions", data=body, method="POST",
    headers={"Content-Type": "application/jsonl", "Cfr-Party": "user",
             "Cfr-Submission": sub_id,
             "Cfr-Signature": base64.b64encode(cose).decode()})
try:
    with urllib.request.urlopen(req, timeout=30) as resp:
        print(resp.status)
        print(resp.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
    print(e.read().decode())
