#!/bin/sh
# Regenerates the known-answer tokens of this directory with OpenSSL (its
# `ts` command is the reference TSA): a CA, and TSA certificates issued by
# it with each key type cfr verifies, each stamping manifest.cbor.
#
#   sh make.sh        (in this directory; overwrites the files)
#
# Private keys are made in a temporary directory and thrown away (but
# rsa.key, see below); the
# certificates are valid for ten years from the day they were made, and
# tokens verify at their own time, so the files stay valid.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

cat > ext.cnf <<'X'
[tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
X
cat > ts.cnf <<'X'
[tsa]
default_tsa = tsa_config
[tsa_config]
dir = .
serial = $dir/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
X
echo 01 > serial

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=cfr test CA/O=cfr tests" -days 3650 \
    -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

tsa() { # name, genpkey args...
    name=$1; shift
    openssl genpkey "$@" -out "$name.key" 2>/dev/null
    openssl req -new -key "$name.key" -subj "/CN=cfr test TSA ($name)/O=cfr tests" -out "$name.csr"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile ext.cnf -extensions tsa -out "$name.pem" 2>/dev/null
}
tsa rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
tsa p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
tsa p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384

cp "$here/manifest.cbor" manifest.cbor
openssl ts -query -data manifest.cbor -sha256 -cert -out query.tsq
for name in rsa p256 p384; do
    openssl ts -reply -config ts.cnf -queryfile query.tsq -signer "$name.pem" \
        -inkey "$name.key" -out "$name.tsr" 2>/dev/null
    openssl ts -verify -data manifest.cbor -in "$name.tsr" -CAfile ca.pem -untrusted "$name.pem" >/dev/null
    cp "$name.pem" "$name.tsr" "$here/"
done
# ESSCertID v1 (SHA-1), as OpenSSL 1.1 made by default.
sed 's/^ess_cert_id_alg = sha256/ess_cert_id_alg = sha1/' ts.cnf > ts1.cnf
openssl ts -reply -config ts1.cnf -queryfile query.tsq -signer rsa.pem -inkey rsa.key -out rsa-esscertid-v1.tsr 2>/dev/null
# A token without the TSA's certificate (certReq false).
openssl ts -query -data manifest.cbor -sha256 -out nocert.tsq
openssl ts -reply -config ts.cnf -queryfile nocert.tsq -signer rsa.pem -inkey rsa.key -out rsa-nocert.tsr 2>/dev/null
# A self-signed "TSA" that no pin vouches for.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rogue.key 2>/dev/null
openssl req -x509 -new -key rogue.key -subj "/CN=cfr test TSA (rsa)/O=cfr tests" -days 3650 \
    -addext "extendedKeyUsage=critical,timeStamping" -out rogue.pem
openssl ts -reply -config ts.cnf -queryfile query.tsq -signer rogue.pem -inkey rogue.key -out rogue.tsr 2>/dev/null
# OpenSSL's ts cannot sign with RSASSA-PSS (its PKCS#7 code refuses a PSS
# key); the tests re-sign rsa.tsr's signed attributes with PSS using this
# key (a test key, made here, trusted by nothing but these tests).
cp rsa.key "$here/rsa.key"
cp ca.pem rsa-esscertid-v1.tsr rsa-nocert.tsr rogue.pem rogue.tsr "$here/"
echo "made in $here"
