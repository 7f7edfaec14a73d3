//! Object storage: an S3-compatible bucket (`s3://bucket/prefix`) or a
//! local directory (`file:///path`), with the conditional writes that
//! immutable evidence needs.
//!
//! S3 settings come from the standard environment variables
//! (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`, and `AWS_ALLOW_HTTP=true` for a
//! plain-HTTP endpoint such as a server on loopback). Credentials are
//! never part of a URL here and never printed: errors name the object's
//! `s3://` URL and the store's reason.
//!
//! * [`Objects::create`] writes an object only if none is there
//!   (`If-None-Match: *`); an object already there with the very same
//!   bytes is success ([`Created::Same`]), other bytes are
//!   [`ObjectsError::Differs`], naming the object.
//! * [`Objects::replace`] is compare-and-swap (`If-Match` with the ETag
//!   read before, or create-only when there was none). On `file://`, whose
//!   local store has no conditional update, the ETag is compared just
//!   before an atomic rename: one writer at a time is the operator's
//!   business there.
//! * [`Objects::get`] reads at most a given number of bytes: a hostile
//!   bucket cannot make a reader hold more.

use bytes::Bytes;
use futures_util::StreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    GetOptions, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Objects larger than this are uploaded in parts (S3 multipart), which
/// cannot be conditional: see [`Objects::upload_file`].
pub const SINGLE_PUT_MAX: u64 = 64 << 20;

/// Why an object store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectsError {
    /// The URL is not `s3://bucket[/prefix]` or `file:///absolute/path`.
    #[error("{url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store could not be set up (configuration from the environment).
    #[error("{url}: {reason}")]
    Config {
        /// The store's URL.
        url: String,
        /// The store's reason.
        reason: String,
    },
    /// An object exists with other bytes than the ones to be written.
    #[error("{url} already exists with other bytes ({found} bytes there, {ours} to write): refusing to overwrite it")]
    Differs {
        /// The object.
        url: String,
        /// Its size in the store.
        found: u64,
        /// The size of what was to be written.
        ours: u64,
    },
    /// An object exists and overwriting was not asked for.
    #[error("{url} already exists: refusing to overwrite it")]
    Exists {
        /// The object.
        url: String,
    },
    /// A compare-and-swap failed: the object changed since it was read.
    #[error("{url} changed while it was being replaced (another writer?)")]
    Changed {
        /// The object.
        url: String,
    },
    /// An object is larger than the reader accepts.
    #[error("{url} is larger than the {max} bytes it may be")]
    TooLarge {
        /// The object.
        url: String,
        /// The largest size accepted.
        max: u64,
    },
    /// The store failed (network, permissions, ...).
    #[error("{url}: {reason}")]
    Store {
        /// The object.
        url: String,
        /// The store's reason.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Local {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// An object read with [`Objects::get`].
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its bytes.
    pub bytes: Bytes,
    /// Its version, for a later [`Objects::replace`].
    pub version: UpdateVersion,
}

/// What [`Objects::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The object was written.
    New,
    /// The object was already there with the very same bytes.
    Same,
}

/// A place in object storage: a store and a prefix inside it.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    local: bool,
}

impl Objects {
    /// Opens `s3://bucket[/prefix]` (settings from the AWS environment
    /// variables) or `file:///absolute/path` (created if missing).
    pub fn open(url: &str) -> Result<Objects, ObjectsError> {
        let bad = |reason: &str| ObjectsError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let url_trimmed = url.trim_end_matches('/');
        if let Some(rest) = url_trimmed.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() || bucket.contains(['@', ':', '?', '#']) {
                return Err(bad("give s3://BUCKET/PREFIX (credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never in the URL)"));
            }
            check_prefix(prefix).map_err(|r| bad(&r))?;
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(RetryConfig {
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(30),
                    ..RetryConfig::default()
                })
                .build()
                .map_err(|e| ObjectsError::Config {
                    url: url_trimmed.to_owned(),
                    reason: e.to_string(),
                })?;
            return Ok(Objects {
                store: Arc::new(store),
                prefix: prefix.to_owned(),
                url: url_trimmed.to_owned(),
                local: false,
            });
        }
        if let Some(path) = url_trimmed.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("give file:///ABSOLUTE/PATH"));
            }
            std::fs::create_dir_all(path).map_err(|source| ObjectsError::Local {
                path: path.into(),
                source,
            })?;
            let store =
                LocalFileSystem::new_with_prefix(path).map_err(|e| ObjectsError::Config {
                    url: url_trimmed.to_owned(),
                    reason: e.to_string(),
                })?;
            return Ok(Objects {
                store: Arc::new(store),
                prefix: String::new(),
                url: url_trimmed.to_owned(),
                local: true,
            });
        }
        Err(bad(
            "object storage URLs are s3://BUCKET/PREFIX or file:///PATH",
        ))
    }

    /// Whether `s` names object storage (`s3://` or `file://`) rather
    /// than a local path.
    pub fn is_url(s: &str) -> bool {
        s.starts_with("s3://") || s.starts_with("file://")
    }

    /// Splits `s3://bucket/prefix/name` into the place
    /// (`s3://bucket/prefix`) and the object's name (`name`).
    pub fn open_object(url: &str) -> Result<(Objects, String), ObjectsError> {
        let (place, name) = url
            .rsplit_once('/')
            .filter(|(p, n)| !n.is_empty() && !p.ends_with('/') && Objects::is_url(p))
            .ok_or_else(|| ObjectsError::Url {
                url: url.to_owned(),
                reason: "give the object's full name: s3://BUCKET/PREFIX/NAME or file:///DIR/NAME"
                    .into(),
            })?;
        Ok((Objects::open(place)?, name.to_owned()))
    }

    /// The place's URL (without credentials, which are never in it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the object `name` under this place.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    fn path(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    fn store_error(&self, name: &str, e: object_store::Error) -> ObjectsError {
        ObjectsError::Store {
            url: self.url_of(name),
            reason: e.to_string(),
        }
    }

    /// Reads the object `name`, at most `max` bytes of it (`None` if
    /// there is no such object).
    pub async fn get(&self, name: &str, max: u64) -> Result<Option<Fetched>, ObjectsError> {
        let mut buf = Vec::new();
        let version = self
            .read_bounded(name, max, |chunk| {
                buf.extend_from_slice(chunk);
                Ok(())
            })
            .await?;
        Ok(version.map(|version| Fetched {
            bytes: Bytes::from(buf),
            version,
        }))
    }

    /// Streams the object `name` to `sink`, chunk by chunk, refusing it
    /// ([`ObjectsError::TooLarge`]) as soon as it says or turns out to be
    /// larger than `max` bytes. Returns its version, or `None` if there
    /// is no such object.
    async fn read_bounded(
        &self,
        name: &str,
        max: u64,
        mut sink: impl FnMut(&[u8]) -> Result<(), ObjectsError>,
    ) -> Result<Option<UpdateVersion>, ObjectsError> {
        let got = match self
            .store
            .get_opts(&self.path(name), GetOptions::default())
            .await
        {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.store_error(name, e)),
        };
        let too_large = || ObjectsError::TooLarge {
            url: self.url_of(name),
            max,
        };
        if got.meta.size > max {
            return Err(too_large());
        }
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        // The size said may be a lie: count what arrives.
        let mut stream = got.into_stream();
        let mut read = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.store_error(name, e))?;
            read += chunk.len() as u64;
            if read > max {
                return Err(too_large());
            }
            sink(&chunk)?;
        }
        Ok(Some(version))
    }

    /// Writes `bytes` as `name` only if no object is there. An object
    /// already there with the same bytes is [`Created::Same`]; with other
    /// bytes it is [`ObjectsError::Differs`].
    pub async fn create(&self, name: &str, bytes: Bytes) -> Result<Created, ObjectsError> {
        let put = self
            .store
            .put_opts(
                &self.path(name),
                PutPayload::from_bytes(bytes.clone()),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match put {
            Ok(_) => Ok(Created::New),
            Err(object_store::Error::AlreadyExists { .. }) => {
                // Compare with what is there, reading no more than ours.
                let ours = bytes.len() as u64;
                let there = match self.get(name, ours).await {
                    Ok(Some(f)) => f.bytes,
                    Ok(None) => {
                        return Err(ObjectsError::Changed {
                            url: self.url_of(name),
                        })
                    }
                    Err(ObjectsError::TooLarge { .. }) => {
                        return Err(ObjectsError::Differs {
                            url: self.url_of(name),
                            found: ours + 1,
                            ours,
                        })
                    }
                    Err(e) => return Err(e),
                };
                if there == bytes {
                    Ok(Created::Same)
                } else {
                    Err(ObjectsError::Differs {
                        url: self.url_of(name),
                        found: there.len() as u64,
                        ours,
                    })
                }
            }
            Err(e) => Err(self.store_error(name, e)),
        }
    }

    /// Replaces `name` with `bytes` only if it is still the version read
    /// before (`previous`), or creates it only if there was none
    /// (`previous` is `None`); otherwise [`ObjectsError::Changed`].
    pub async fn replace(
        &self,
        name: &str,
        bytes: Bytes,
        previous: Option<&UpdateVersion>,
    ) -> Result<(), ObjectsError> {
        let changed = || ObjectsError::Changed {
            url: self.url_of(name),
        };
        let mode = match previous {
            None => PutMode::Create,
            // The local store has no conditional update: compare the
            // version now, then write (atomically, by rename).
            Some(v) if self.local => {
                let now = self
                    .store
                    .head(&self.path(name))
                    .await
                    .map_err(|e| self.store_error(name, e))?;
                if now.e_tag != v.e_tag {
                    return Err(changed());
                }
                PutMode::Overwrite
            }
            Some(v) => PutMode::Update(v.clone()),
        };
        match self
            .store
            .put_opts(
                &self.path(name),
                PutPayload::from_bytes(bytes),
                PutOptions::from(mode),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(changed()),
            Err(e) => Err(self.store_error(name, e)),
        }
    }

    /// Deletes `name` (nothing if it is not there).
    pub async fn delete(&self, name: &str) -> Result<(), ObjectsError> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_error(name, e)),
        }
    }

    /// Uploads the local file `from` as `name`: refusing if an object is
    /// there unless `overwrite`. Up to [`SINGLE_PUT_MAX`] bytes this is one
    /// conditional put; a larger file goes up in parts, which S3 cannot
    /// make conditional, so there the check that nothing is there comes
    /// just before the upload. Returns the bytes uploaded.
    pub async fn upload_file(
        &self,
        from: &Path,
        name: &str,
        overwrite: bool,
    ) -> Result<u64, ObjectsError> {
        let local = |source| ObjectsError::Local {
            path: from.to_owned(),
            source,
        };
        let len = std::fs::metadata(from).map_err(local)?.len();
        let path = self.path(name);
        let exists = || ObjectsError::Exists {
            url: self.url_of(name),
        };
        if len <= SINGLE_PUT_MAX {
            let bytes = std::fs::read(from).map_err(local)?;
            let mode = if overwrite {
                PutMode::Overwrite
            } else {
                PutMode::Create
            };
            return match self
                .store
                .put_opts(&path, PutPayload::from(bytes), PutOptions::from(mode))
                .await
            {
                Ok(_) => Ok(len),
                Err(object_store::Error::AlreadyExists { .. }) => Err(exists()),
                Err(e) => Err(self.store_error(name, e)),
            };
        }
        if !overwrite {
            match self.store.head(&path).await {
                Ok(_) => return Err(exists()),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.store_error(name, e)),
            }
        }
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| self.store_error(name, e))?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut file = std::fs::File::open(from).map_err(local)?;
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf).map_err(local)?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(4)
                .await
                .map_err(|e| self.store_error(name, e))?;
            writer.write(&buf[..n]);
        }
        writer
            .finish()
            .await
            .map_err(|e| self.store_error(name, e))?;
        Ok(len)
    }

    /// Downloads `name` into the local file `to` (at most `max` bytes),
    /// streaming. Returns the bytes written, or `None` if there is no such
    /// object.
    pub async fn download_file(
        &self,
        name: &str,
        to: &Path,
        max: u64,
    ) -> Result<Option<u64>, ObjectsError> {
        let local = |source| ObjectsError::Local {
            path: to.to_owned(),
            source,
        };
        let mut file = None;
        let mut written = 0u64;
        let found = self
            .read_bounded(name, max, |chunk| {
                let f = match &mut file {
                    Some(f) => f,
                    None => file.insert(std::fs::File::create(to).map_err(local)?),
                };
                written += chunk.len() as u64;
                std::io::Write::write_all(f, chunk).map_err(local)
            })
            .await?;
        if found.is_none() {
            return Ok(None);
        }
        let file = match file {
            Some(f) => f,
            None => std::fs::File::create(to).map_err(local)?,
        };
        file.sync_all().map_err(local)?;
        Ok(Some(written))
    }
}

/// A prefix is plain path segments: no empty, `.` or `..` segment.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    for seg in prefix.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(format!(
                "the prefix {prefix:?} has an empty, `.` or `..` segment"
            ));
        }
        if seg.chars().any(|c| c.is_control() || c == '\\') {
            return Err(format!(
                "the prefix {prefix:?} has a control character or `\\`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(Objects::open("s3://").is_err());
        assert!(Objects::open("s3://key:secret@bucket/x").is_err());
        assert!(Objects::open("s3://bucket/a//b").is_err());
        assert!(Objects::open("s3://bucket/../b").is_err());
        assert!(Objects::open("file://relative").is_err());
        assert!(Objects::open("http://example.com/x").is_err());
        let o = Objects::open("s3://bucket/log/one/").expect("url");
        assert_eq!(o.url_of("checkpoint"), "s3://bucket/log/one/checkpoint");
        assert!(Objects::open_object("s3://bucket/").is_err());
        let (o, name) = Objects::open_object("s3://bucket/p/evidence.cfr").expect("url");
        assert_eq!((o.url(), name.as_str()), ("s3://bucket/p", "evidence.cfr"));
    }

    #[tokio::test]
    async fn create_and_replace_on_a_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", tmp.path().join("objs").display());
        let o = Objects::open(&url).expect("open");
        let a = Bytes::from_static(b"aaaa");
        assert_eq!(
            o.create("t/x", a.clone()).await.expect("create"),
            Created::New
        );
        assert_eq!(
            o.create("t/x", a.clone()).await.expect("same"),
            Created::Same
        );
        let e = o.create("t/x", Bytes::from_static(b"bbbb")).await;
        assert!(matches!(e, Err(ObjectsError::Differs { .. })), "{e:?}");
        let e = o.create("t/x", Bytes::from_static(b"aaaaa")).await;
        assert!(matches!(e, Err(ObjectsError::Differs { .. })), "{e:?}");
        assert!(matches!(
            o.get("t/x", 3).await,
            Err(ObjectsError::TooLarge { .. })
        ));
        let first = o.get("t/x", 4).await.expect("get").expect("there");
        o.replace("t/x", Bytes::from_static(b"cc"), Some(&first.version))
            .await
            .expect("cas");
        // The version read before is stale now.
        let e = o
            .replace("t/x", Bytes::from_static(b"dd"), Some(&first.version))
            .await;
        assert!(matches!(e, Err(ObjectsError::Changed { .. })), "{e:?}");
        let e = o.replace("t/x", Bytes::from_static(b"dd"), None).await;
        assert!(matches!(e, Err(ObjectsError::Changed { .. })), "{e:?}");
        assert!(o.get("nothing", 10).await.expect("get").is_none());
    }
}
