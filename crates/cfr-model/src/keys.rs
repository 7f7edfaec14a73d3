//! Ed25519 keys: PKCS#8 PEM private keys (as `openssl genpkey -algorithm
//! ed25519` writes them), `ed25519:<base64>` public keys (as contracts name
//! them), fingerprints, and signature checks.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use std::fmt;
#[cfg(not(target_arch = "wasm32"))]
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What is wrong with a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The private key file is not a PKCS#8 PEM Ed25519 key.
    #[error("not an Ed25519 PKCS#8 PEM private key (expected \"-----BEGIN PRIVATE KEY-----\", as `openssl genpkey -algorithm ed25519` writes): {reason}")]
    BadPrivateKey {
        /// Why it was rejected.
        reason: String,
    },
    /// A public key is not `ed25519:<base64 of 32 bytes>`.
    #[error("public key {text:?} is not of the form \"ed25519:<base64 of 32 bytes>\"")]
    BadPublicKey {
        /// The rejected text (shortened).
        text: String,
    },
    /// A public key is 32 bytes but not a valid curve point.
    #[error("public key {text:?} is not a valid Ed25519 point")]
    InvalidPoint {
        /// The rejected text.
        text: String,
    },
    /// Reading or writing a key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `keygen` refuses to replace an existing key file.
    #[error("{path} already exists; refusing to overwrite a key file")]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
}

/// Reads a PKCS#8 PEM Ed25519 private key (v1 as OpenSSL writes it, or v2).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| KeyError::BadPrivateKey {
        reason: e.to_string(),
    })
}

/// Reads a private key file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let meta = std::fs::metadata(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    if meta.len() > 16 * 1024 {
        return Err(KeyError::BadPrivateKey {
            reason: format!(
                "{} is {} bytes, too large for a key",
                path.display(),
                meta.len()
            ),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    signing_key_from_pem(&text).map_err(|e| match e {
        KeyError::BadPrivateKey { reason } => KeyError::BadPrivateKey {
            reason: format!("{}: {reason}", path.display()),
        },
        other => other,
    })
}

/// The PKCS#8 v1 PEM of a private key: byte-for-byte the layout OpenSSL
/// writes (48-byte DER, no public key), LF line endings.
pub fn signing_key_to_pem(key: &SigningKey) -> String {
    let kp = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    match kp.to_pkcs8_pem(Default::default()) {
        Ok(pem) => pem.to_string(),
        // Encoding a 32-byte seed into a fixed DER template cannot fail.
        Err(e) => unreachable!("PKCS#8 encoding of an Ed25519 seed failed: {e}"),
    }
}

/// A fresh random key from the operating system's generator.
#[cfg(not(target_arch = "wasm32"))]
pub fn generate() -> SigningKey {
    use rand_core::RngCore as _;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::OsRng.fill_bytes(&mut seed[..]);
    SigningKey::from_bytes(&seed)
}

/// Writes `<base>.key` (PEM, mode 0600) and `<base>.pub` (`ed25519:...`)
/// for a new key. Never overwrites: if either file exists, nothing is written.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_new_keypair(base: &Path) -> Result<(PathBuf, PathBuf, SigningKey), KeyError> {
    let key_path = with_suffix(base, "key");
    let pub_path = with_suffix(base, "pub");
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(KeyError::Exists { path: p.clone() });
        }
    }
    let key = generate();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&key_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => KeyError::Exists {
            path: key_path.clone(),
        },
        _ => io(&key_path)(e),
    })?;
    f.write_all(signing_key_to_pem(&key).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(&key_path))?;
    let mut p = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&pub_path)
        .map_err(io(&pub_path))?;
    writeln!(p, "{}", PublicKey(key.verifying_key())).map_err(io(&pub_path))?;
    Ok((key_path, pub_path, key))
}

#[cfg(not(target_arch = "wasm32"))]
fn with_suffix(base: &Path, ext: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// A public key as contracts write it: `ed25519:<base64 of 32 bytes>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pub VerifyingKey);

impl PublicKey {
    /// Parses `ed25519:<base64>`; also accepts a PEM `PUBLIC KEY`
    /// (SubjectPublicKeyInfo, as `openssl pkey -pubout` writes).
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let t = text.trim();
        let short = || t.chars().take(80).collect::<String>();
        if t.starts_with("-----BEGIN PUBLIC KEY-----") {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            return VerifyingKey::from_public_key_pem(t)
                .map(PublicKey)
                .map_err(|_| KeyError::BadPublicKey { text: short() });
        }
        let b64 = t
            .strip_prefix("ed25519:")
            .ok_or_else(|| KeyError::BadPublicKey { text: short() })?;
        let raw = STANDARD
            .decode(b64)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| KeyError::BadPublicKey { text: short() })?;
        VerifyingKey::from_bytes(&raw)
            .map(PublicKey)
            .map_err(|_| KeyError::InvalidPoint { text: short() })
    }

    /// Reads a public key from a file holding `ed25519:...` or a PEM public
    /// key, or from a private key file (its public half).
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        if text.contains("PRIVATE KEY") {
            return signing_key_from_pem(&text).map(|k| PublicKey(k.verifying_key()));
        }
        PublicKey::parse(&text)
    }

    /// The fingerprint: `SHA256:` and the unpadded base64 of the SHA-256 of
    /// the 32 key bytes (the style of OpenSSH fingerprints).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }

    /// Verifies a signature (strictly: no malleable or small-order forms).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        verify(&self.0, msg, sig)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", STANDARD.encode(self.0.as_bytes()))
    }
}

/// `SHA256:<base64>` fingerprint of a verifying key.
pub fn fingerprint(key: &VerifyingKey) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(key.as_bytes()))
    )
}

/// Verifies an Ed25519 signature strictly (`verify_strict`).
pub fn verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    key.verify_strict(msg, &sig).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Written by `openssl genpkey -algorithm ed25519` (RFC 8410 example key).
    const OPENSSL_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";

    #[test]
    fn openssl_keys_roundtrip_byte_for_byte() {
        let k = signing_key_from_pem(OPENSSL_PEM).unwrap();
        assert_eq!(signing_key_to_pem(&k), OPENSSL_PEM);
        // RFC 8410 section 10.3: the public key of that private key.
        let p = PublicKey(k.verifying_key());
        assert_eq!(
            hex::encode(p.0.as_bytes()),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
        assert_eq!(PublicKey::parse(&p.to_string()).unwrap(), p);
        assert!(p.fingerprint().starts_with("SHA256:"));
    }

    #[test]
    fn bad_keys_are_named() {
        assert!(matches!(
            signing_key_from_pem("garbage"),
            Err(KeyError::BadPrivateKey { .. })
        ));
        assert!(matches!(
            PublicKey::parse("ed25519:AAAA"),
            Err(KeyError::BadPublicKey { .. })
        ));
        assert!(matches!(
            PublicKey::parse("rsa:AAAA"),
            Err(KeyError::BadPublicKey { .. })
        ));
    }

    #[test]
    fn keypair_files_are_private_and_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("cfr-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("alice");
        let (kp, pp, key) = write_new_keypair(&base).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&kp).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read_signing_key(&kp).unwrap().to_bytes(), key.to_bytes());
        assert_eq!(PublicKey::read(&pp).unwrap().0, key.verifying_key());
        assert!(matches!(
            write_new_keypair(&base),
            Err(KeyError::Exists { .. })
        ));
        assert_eq!(read_signing_key(&kp).unwrap().to_bytes(), key.to_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
