//! Object storage and C2SP tlog-tiles, against a real S3-compatible server
//! (`moto_server`, started per test on a free loopback port): `log tiles
//! publish`, the tree recomputed from the bucket by a script written from
//! the C2SP text (`interop/tiles_root.py`), `log tiles verify` and what it
//! catches, incremental publication, a rewritten log refused, and `log
//! seal --output s3://...`.

use crate::util::{cfr, run, sample_dir};
use cfr_model::keys::{read_signing_key, SigningKey};
use cfr_model::{Attrs, Value};
use cfr_recorder::{Recorder, RecorderOptions, Submission};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt as _;

const BUCKET: &str = "cfr-test";
const ORIGIN: &str = "cfr/acme-objstore-2026-03";

/// A `moto_server` on a free loopback port with one bucket, killed on drop.
struct Moto {
    child: Child,
    port: u16,
    http: ureq::Agent,
}

impl Moto {
    /// Starts the server, or says loudly why it cannot. A test that needs
    /// it fails when it is missing (in CI always; outside CI unless
    /// CFR_SKIP_MOTO=1 asks to skip, said on stderr).
    fn start() -> Option<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Moto::start_on(port)
    }

    /// Kills the server: the store is unreachable until [`Moto::revive`].
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new server on the same port, with the bucket again (empty: moto
    /// keeps its objects in memory).
    fn revive(&mut self) {
        let new = Moto::start_on(self.port).expect("moto_server started before");
        let old = std::mem::replace(self, new);
        drop(old);
    }

    fn start_on(port: u16) -> Option<Moto> {
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("CFR_SKIP_MOTO").is_some_and(|v| v == "1")
                    && std::env::var_os("CI").is_none()
                {
                    eprintln!("SKIPPED: moto_server cannot be started ({e}) and CFR_SKIP_MOTO=1: the object storage tests did NOT run");
                    return None;
                }
                panic!("moto_server is needed for the object storage tests ({e}): python3 -m pip install 'moto[server]' (.ci/run installs it); to skip them on purpose outside CI, set CFR_SKIP_MOTO=1");
            }
        };
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut moto = Moto { child, port, http };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if moto.http.get(&moto.base()).call().is_ok() {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "moto_server did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let r = moto
            .http
            .put(&format!("{}/{BUCKET}", moto.base()))
            .send(&[][..])
            .expect("create bucket");
        assert_eq!(r.status().as_u16(), 200, "creating the bucket");
        Some(moto)
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The standard AWS variables pointing at this server.
    fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
        cmd
    }

    fn vars(&self) -> [(&'static str, String); 5] {
        [
            ("AWS_ENDPOINT_URL", self.base()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Direct access to the bucket, as its owner has (behind the
    /// recorder's back).
    fn owner<T>(&self, f: impl AsyncFnOnce(&AmazonS3) -> T) -> T {
        let store = AmazonS3Builder::new()
            .with_endpoint(self.base())
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id("testing")
            .with_secret_access_key("testing-secret")
            .build()
            .expect("s3 client");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f(&store))
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.owner(async |s| match s.get(&ObjectPath::from(key)).await {
            Ok(r) => Some(r.bytes().await.expect("body").to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("GET {key}: {e}"),
        })
    }

    /// Puts an object, replacing what is there.
    fn put(&self, key: &str, bytes: &[u8]) {
        let bytes = bytes.to_vec();
        self.owner(async |s| s.put(&ObjectPath::from(key), bytes.into()).await)
            .expect("PUT");
    }

    fn delete(&self, key: &str) {
        self.owner(async |s| s.delete(&ObjectPath::from(key)).await)
            .expect("DELETE");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(name: &str) -> SigningKey {
    read_signing_key(&sample_dir().join(format!("keys/{name}.key"))).expect("sample key")
}

/// A log of the sample contract holding `n` requests (`tag` in their
/// ids), with a signed checkpoint over all of them.
fn log_of(dir: &Path, n: u64, tag: &str) {
    if !dir.exists() {
        cfr_recorder::init(dir, &crate::util::sample_contract()).expect("init");
    }
    let log = Recorder::open(
        dir,
        RecorderOptions {
            key: Some(key("recorder")),
            ..RecorderOptions::default()
        },
    )
    .expect("open");
    let start = log.size();
    let mut seq = start;
    while seq < n {
        let batch: Vec<Submission> = (seq..n.min(seq + 500))
            .map(|i| {
                let mut attrs = Attrs::new();
                attrs.insert("id", Value::Text(format!("{tag}-{i}")));
                attrs.insert("op", Value::Text("get".into()));
                attrs.insert("object", Value::Text(format!("obj/{i}")));
                Submission::new("request", "user", attrs)
            })
            .collect();
        seq += batch.len() as u64;
        log.append(batch).expect("append");
    }
    log.sign_checkpoint().expect("checkpoint");
    log.close();
}

fn checkpoint_of(dir: &Path) -> cfr_merkle::Checkpoint {
    let (_, _, cp) = cfr_recorder::inspect(dir).expect("inspect");
    cp.expect("a signed checkpoint").checkpoint().clone()
}

fn publish(moto: &Moto, dir: &Path, prefix: &str) -> (i32, String, String) {
    run(moto.env(
        cfr()
            .args(["log", "tiles", "publish"])
            .arg(dir)
            .arg("--objects")
            .arg(format!("s3://{BUCKET}/{prefix}")),
    ))
}

fn verify(moto: &Moto, prefix: &str) -> (i32, String, String) {
    run(moto.env(
        cfr()
            .args(["log", "tiles", "verify"])
            .arg(format!("s3://{BUCKET}/{prefix}"))
            .arg("--contract")
            .arg(sample_dir().join("contract.toml")),
    ))
}

/// The independent recomputation: the script's JSON, or its failure.
fn recompute(moto: &Moto, prefix: &str, sizes: &[u64]) -> Result<serde_json::Value, String> {
    let script = crate::util::root().join("tests/all/interop/tiles_root.py");
    let recorder = cfr_model::keys::PublicKey(key("recorder").verifying_key()).to_string();
    let out = moto
        .env(&mut Command::new("python3"))
        .arg(script)
        .arg(moto.base())
        .arg(BUCKET)
        .arg(prefix)
        .arg(recorder)
        .arg(ORIGIN)
        .args(sizes.iter().map(u64::to_string))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("{e}: {stdout}"))
}

fn python_has_cryptography() {
    let ok = Command::new("python3")
        .args(["-c", "import boto3, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python3 with boto3 and cryptography is needed (python3 -m pip install 'moto[server]' cryptography; .ci/run installs them)"
    );
}

/// Flips one bit of `key`'s object in the bucket, runs `log tiles
/// verify`, puts the object back, and returns what verify said.
fn verify_with(moto: &Moto, prefix: &str, key: &str, change: impl Fn(&mut Vec<u8>)) -> String {
    let good = moto.get(&format!("{prefix}/{key}")).expect("object there");
    let mut bad = good.clone();
    change(&mut bad);
    moto.put(&format!("{prefix}/{key}"), &bad);
    let (code, out, err) = verify(moto, prefix);
    moto.put(&format!("{prefix}/{key}"), &good);
    assert_eq!(code, 1, "{key}: {out}{err}");
    format!("{out}{err}")
}

#[test]
fn tiles_recomputed_from_the_bucket_equal_the_signed_checkpoint_and_tampering_is_caught() {
    let Some(moto) = Moto::start() else { return };
    python_has_cryptography();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    // 3000 = 11 full tiles of 256 and a partial one of 184; level 1 partial of 11.
    log_of(&dir, 3000, "a");
    let cp = checkpoint_of(&dir);
    assert_eq!(cp.size, 3000);
    let (code, out, err) = publish(&moto, &dir, "logs/a");
    assert_eq!(code, 0, "{out}{err}");
    // 12 level-0 tiles, 12 entry bundles, 1 level-1 tile.
    assert!(out.contains("25 tiles and entry bundles written"), "{out}");
    for key in [
        "tile/0/000",
        "tile/0/011.p/184",
        "tile/entries/011.p/184",
        "tile/1/000.p/11",
    ] {
        assert!(moto.get(&format!("logs/a/{key}")).is_some(), "{key}");
    }

    // Code written from the C2SP text, not cfr's, gets the signed root.
    let v = recompute(&moto, "logs/a", &[]).expect("recomputed");
    assert_eq!(v["size"], 3000);
    assert_eq!(v["computed"], v["root"]);
    assert_eq!(v["root"].as_str(), Some(hex::encode(cp.root).as_str()));

    let (code, out, err) = verify(&moto, "logs/a");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("verified s3://cfr-test/logs/a") && out.contains("3000 events"),
        "{out}"
    );
    let (code, out, err) = run(moto.env(
        cfr()
            .args([
                "log",
                "tiles",
                "verify",
                "s3://cfr-test/logs/a",
                "--recorder-key",
            ])
            .arg(sample_dir().join("keys/recorder.pub")),
    ));
    assert_eq!(code, 0, "{out}{err}");

    // A flipped byte in a full level-0 tile: the entries no longer hash to it.
    let said = verify_with(&moto, "logs/a", "tile/0/003", |b| b[100] ^= 1);
    assert!(
        said.contains("tile/0/003") && said.contains("does not hash"),
        "{said}"
    );
    // The script sees it too.
    let good = moto.get("logs/a/tile/0/003").expect("tile");
    let mut bad = good.clone();
    bad[100] ^= 1;
    moto.put("logs/a/tile/0/003", &bad);
    assert!(recompute(&moto, "logs/a", &[]).is_err());
    moto.put("logs/a/tile/0/003", &good);
    // A flipped byte in an entry bundle (inside an event's id).
    let said = verify_with(&moto, "logs/a", "tile/entries/005", |b| {
        let at = b.len() - 3;
        b[at] ^= 1;
    });
    assert!(said.contains("tile/entries/005"), "{said}");
    // A truncated partial tile.
    let said = verify_with(&moto, "logs/a", "tile/0/011.p/184", |b| {
        b.pop();
    });
    assert!(
        said.contains("tile/0/011.p/184") && said.contains("5887 bytes"),
        "{said}"
    );
    // A level-1 tile whose hash is not the tile below's.
    let said = verify_with(&moto, "logs/a", "tile/1/000.p/11", |b| b[32 * 7] ^= 1);
    assert!(
        said.contains("tile/1/000.p/11") && said.contains("hash 7"),
        "{said}"
    );
    // The checkpoint of another log under the same contract and key: its
    // signature verifies, but the tiles give another root.
    let other = tmp.path().join("other");
    log_of(&other, 3000, "b");
    let note = std::fs::read(other.join(cfr_recorder::CHECKPOINT_FILE)).expect("note");
    let said = verify_with(&moto, "logs/a", "checkpoint", |b| *b = note.clone());
    assert!(
        said.contains("logs/a/checkpoint") && said.contains("root"),
        "{said}"
    );
    // A checkpoint signed by someone else.
    let foreign = cfr_merkle::Checkpoint {
        origin: ORIGIN.into(),
        size: cp.size,
        root: cp.root,
    }
    .sign(&key("provider"), ORIGIN)
    .expect("sign")
    .to_note();
    let said = verify_with(&moto, "logs/a", "checkpoint", |b| {
        *b = foreign.clone().into_bytes()
    });
    assert!(
        said.contains("checkpoint") && said.contains("not signed by the recorder key"),
        "{said}"
    );
    // A missing bundle.
    let bundle = moto.get("logs/a/tile/entries/000").expect("bundle");
    moto.delete("logs/a/tile/entries/000");
    let (code, out, _) = verify(&moto, "logs/a");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tile/entries/000 is missing"), "{out}");
    moto.put("logs/a/tile/entries/000", &bundle);
    assert_eq!(verify(&moto, "logs/a").0, 0);
}

#[test]
fn tiles_republished_after_growth_are_incremental_and_a_rewritten_log_is_refused() {
    let Some(moto) = Moto::start() else { return };
    python_has_cryptography();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    log_of(&dir, 3000, "a");
    let old = checkpoint_of(&dir);
    assert_eq!(publish(&moto, &dir, "p").0, 0);
    let old_note = moto.get("p/checkpoint").expect("checkpoint");
    // Publishing again changes nothing.
    let (code, out, err) = publish(&moto, &dir, "p");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(" 0 tiles and entry bundles written")
            && out.contains("checkpoint already this one"),
        "{out}"
    );

    // Grown to 3500: level-0 tiles 11 and 12 become full, 13.p/172 is
    // new, with their bundles, and level 1 is 000.p/13 now.
    log_of(&dir, 3500, "a");
    let (code, out, err) = publish(&moto, &dir, "p");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("size 3000 was published before"), "{out}");
    assert!(out.contains(" 7 tiles and entry bundles written"), "{out}");
    // The new tree, recomputed independently, is the signed one, and its
    // first 3000 leaves give the root published before.
    let v = recompute(&moto, "p", &[3000]).expect("recomputed");
    assert_eq!(
        (v["size"].as_u64(), &v["computed"]),
        (Some(3500), &v["root"])
    );
    assert_eq!(
        v["roots_at"]["3000"].as_str(),
        Some(hex::encode(old.root).as_str())
    );
    assert_eq!(verify(&moto, "p").0, 0);

    // Another log under the same contract (same key, same origin), larger:
    // its first 3500 entries give another root. Refused, nothing changed.
    let rewritten = tmp.path().join("rewritten");
    log_of(&rewritten, 4000, "b");
    let before = moto.get("p/checkpoint").expect("checkpoint");
    let (code, out, err) = publish(&moto, &rewritten, "p");
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("s3://cfr-test/p/checkpoint") && err.contains("rewritten"),
        "{err}"
    );
    assert_eq!(moto.get("p/checkpoint"), Some(before.clone()));
    // Smaller than what is published: never moved back.
    let smaller = tmp.path().join("smaller");
    log_of(&smaller, 100, "a");
    let (code, _, err) = publish(&moto, &smaller, "p");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("never moving the published log back"), "{err}");
    // Even with the checkpoint gone, the rewritten log meets a tile with
    // other bytes, named, and overwrites none.
    moto.delete("p/checkpoint");
    let tile = moto.get("p/tile/0/000").expect("tile");
    let (code, _, err) = publish(&moto, &rewritten, "p");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("s3://cfr-test/p/tile/") && err.contains("other bytes"),
        "{err}"
    );
    assert_eq!(moto.get("p/tile/0/000"), Some(tile));
    assert_eq!(moto.get("p/checkpoint"), None);
    // And what it wrote past the original's tiles was removed again.
    assert_eq!(moto.get("p/tile/0/014"), None);
    assert_eq!(moto.get("p/tile/0/013"), None);
    // The original log publishes its checkpoint again; the old note is
    // consistent with it (the script recomputed that root above).
    assert_eq!(publish(&moto, &dir, "p").0, 0);
    assert_eq!(verify(&moto, "p").0, 0);
    assert_ne!(moto.get("p/checkpoint"), Some(old_note.clone()));
    // The server honours the conditions publication relies on: a put
    // over a stale ETag (If-Match) and a create over an object
    // (If-None-Match) are refused.
    moto.owner(async |s| {
        use object_store::{ObjectStore as _, PutMode, PutOptions, UpdateVersion};
        let path = ObjectPath::from("p/checkpoint");
        let now = s.head(&path).await.expect("head");
        let stale = UpdateVersion {
            e_tag: Some("\"0123\"".into()),
            version: None,
        };
        let put =
            |mode: PutMode| s.put_opts(&path, old_note.clone().into(), PutOptions::from(mode));
        assert!(matches!(
            put(PutMode::Update(stale)).await,
            Err(object_store::Error::Precondition { .. })
        ));
        assert!(matches!(
            put(PutMode::Create).await,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        assert_eq!(s.head(&path).await.expect("head").e_tag, now.e_tag);
    });
}

#[test]
fn log_seal_writes_a_bundle_to_object_storage_that_verify_accepts() {
    let Some(moto) = Moto::start() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    log_of(&dir, 300, "a");
    let seal = |force: bool| {
        let mut cmd = cfr();
        cmd.args(["log", "seal"])
            .arg(&dir)
            .arg("--key")
            .arg(sample_dir().join("keys/recorder.key"))
            .args([
                "--no-analyzer",
                "--out",
                "s3://cfr-test/bundles/evidence.cfr",
            ]);
        if force {
            cmd.arg("--force");
        }
        run(moto.env(&mut cmd))
    };
    let (code, out, err) = seal(false);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("into s3://cfr-test/bundles/evidence.cfr"),
        "{out}"
    );
    // Downloaded by plain HTTP, it verifies.
    let bytes = moto.get("bundles/evidence.cfr").expect("bundle");
    let local = tmp.path().join("downloaded.cfr");
    std::fs::write(&local, &bytes).expect("write");
    let (code, out, err) = run(cfr()
        .arg("verify")
        .arg(&local)
        .arg("--recorder-key")
        .arg(sample_dir().join("keys/recorder.pub")));
    assert_eq!(code, 0, "{out}{err}");
    // `verify` reads it from the bucket too.
    let (code, out, err) = run(moto.env(
        cfr()
            .args([
                "verify",
                "s3://cfr-test/bundles/evidence.cfr",
                "--recorder-key",
            ])
            .arg(sample_dir().join("keys/recorder.pub")),
    ));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("s3://cfr-test/bundles/evidence.cfr"), "{out}");
    // An existing object is not replaced without --force.
    log_of(&dir, 400, "a");
    let (code, _, err) = seal(false);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(moto.get("bundles/evidence.cfr"), Some(bytes.clone()));
    let (code, out, err) = seal(true);
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(moto.get("bundles/evidence.cfr"), Some(bytes));
    // Errors name the object, never the credentials.
    let (code, _, err) = run(moto.env(
        cfr()
            .args(["verify", "s3://cfr-test/bundles/nothing.cfr"])
            .env("AWS_SECRET_ACCESS_KEY", "s3cr3t-value"),
    ));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("s3://cfr-test/bundles/nothing.cfr") && !err.contains("s3cr3t"),
        "{err}"
    );
}

/// `file://` needs no server: publish and verify a small log there.
#[test]
fn tiles_on_a_local_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    log_of(&dir, 700, "a");
    let objects: PathBuf = tmp.path().join("objects");
    let url = format!("file://{}", objects.display());
    let (code, out, err) = run(cfr()
        .args(["log", "tiles", "publish"])
        .arg(&dir)
        .args(["--objects", &url]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(objects.join("tile/0/002.p/188").is_file() && objects.join("checkpoint").is_file());
    let (code, out, err) = run(cfr()
        .args(["log", "tiles", "verify", &url, "--contract"])
        .arg(sample_dir().join("contract.toml")));
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(cfr().args(["log", "tiles", "verify", &url]));
    assert_eq!(code, 2, "a key is required: {err}");
}

/// A `log serve` of `dir` with the store's settings, stderr to `err`:
/// (process, address).
fn serve_published(moto: &Moto, dir: &Path, err: &Path) -> (Child, String) {
    let mut server = moto
        .env(
            cfr()
                .args(["log", "serve"])
                .arg(dir)
                .arg("--key")
                .arg(sample_dir().join("keys/recorder.key"))
                .args(["--listen", "127.0.0.1:0", "--checkpoint-interval", "0s"]),
        )
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(err).expect("stderr file"))
        .spawn()
        .expect("serve");
    let (line, addr) = crate::util::listening(&mut server);
    assert!(
        line.contains("; publishing tiles to s3://cfr-test/live"),
        "{line}"
    );
    (server, addr)
}

fn append_live(moto: &Moto, addr: &str, file: &str) -> (i32, String, String) {
    run(moto.env(&mut crate::util::log_append(file, &[addr])))
}

/// Waits until `log tiles verify` accepts the bucket's log at `size`.
fn wait_published(moto: &Moto, prefix: &str, size: u64, log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, out, err) = verify(moto, prefix);
        if code == 0 && out.contains(&format!(" size {size} root ")) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "the recorder did not publish size {size}: {out}{err}\nits stderr:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `log init --objects`: the recorder publishes its log as tiles by
/// itself, after its checkpoints; an unreachable store delays the tiles
/// but never an append, and the recorder catches up when it is back; a
/// prefix holding another log, or no store at all, is refused at init.
#[test]
fn a_recorder_made_with_objects_publishes_its_tiles_and_catches_up_after_an_outage() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    python_has_cryptography();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("rec");
    let contract = sample_dir().join("contract.toml");
    let init = |moto: &Moto, dir: &Path, url: &str| {
        run(moto.env(
            cfr()
                .args(["log", "init"])
                .arg(dir)
                .arg("--contract")
                .arg(&contract)
                .args(["--objects", url]),
        ))
    };
    let (code, out, err) = init(&moto, &dir, "s3://cfr-test/live/");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("published as tiles to s3://cfr-test/live"),
        "{out}"
    );
    let config = std::fs::read_to_string(dir.join("objects.toml")).expect("objects.toml");
    assert!(
        config.contains("url = \"s3://cfr-test/live\"") && !config.contains("testing-secret"),
        "{config}"
    );

    let log = tmp.path().join("serve.err");
    let (mut server, addr) = serve_published(&moto, &dir, &log);
    let (code, out, err) = append_live(&moto, &addr, "live-1.jsonl");
    assert_eq!(code, 0, "{out}{err}");
    wait_published(&moto, "live", 40, &log);
    // What the bucket holds is the recorder's latest checkpoint, byte for byte.
    let (code, served, err) = run(cfr().args(["log", "checkpoint", "--url", &addr]));
    assert_eq!(code, 0, "{err}");
    let note = String::from_utf8(moto.get("live/checkpoint").expect("checkpoint")).expect("utf-8");
    assert_eq!(note.trim_end(), served.trim_end());

    // The store goes away: appends go on, with their receipts; the
    // recorder says why it cannot publish.
    moto.kill();
    let (code, out, err) = append_live(&moto, &addr, "live-2.jsonl");
    assert_eq!(code, 0, "appends must not wait for the store: {out}{err}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("publishing tiles of size 60 to s3://cfr-test/live")
    {
        assert!(
            Instant::now() < deadline,
            "no word of the failed publication"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        said.contains("appends go on") && !said.contains("testing-secret"),
        "{said}"
    );

    // Back (empty, as moto keeps nothing): the whole log is published
    // again, and an independent reading of the bucket gives the root.
    moto.revive();
    wait_published(&moto, "live", 60, &log);
    let v = recompute(&moto, "live", &[40]).expect("recomputed");
    assert_eq!((v["size"].as_u64(), &v["computed"]), (Some(60), &v["root"]));
    // ... and its first 40 leaves the root published before the outage.
    let before = cfr_merkle::SignedCheckpoint::parse(note.as_bytes()).expect("note");
    assert_eq!(
        v["roots_at"]["40"].as_str(),
        Some(hex::encode(before.checkpoint().root).as_str())
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("publishing works again"),
        "the recovery is said"
    );
    // SIGINT: the recorder stops (after a last publication, here none due).
    let st = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = server.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the recorder did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    // `log tiles publish DIR` finds the store in the log's configuration.
    let (code, out, err) = run(moto.env(cfr().args(["log", "tiles", "publish"]).arg(&dir)));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("checkpoint already this one"), "{out}");

    // A new log is refused where this contract's log is published, where
    // another log's checkpoint lies, and where no store answers; each
    // time nothing is created.
    let other = tmp.path().join("other");
    let (code, _, err) = init(&moto, &other, "s3://cfr-test/live");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("s3://cfr-test/live/checkpoint already holds a published log of this contract (size 60)"),
        "{err}"
    );
    moto.put("junk/checkpoint", b"not a signed note\n");
    let (code, _, err) = init(&moto, &other, "s3://cfr-test/junk");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("s3://cfr-test/junk/checkpoint is not this log's checkpoint"),
        "{err}"
    );
    let mut nowhere = cfr();
    moto.env(
        nowhere
            .args(["log", "init"])
            .arg(&other)
            .arg("--contract")
            .arg(&contract),
    )
    .args(["--objects", "s3://cfr-test/live2"])
    .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    let (code, _, err) = run(&mut nowhere);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing was created"), "{err}");
    assert!(!other.exists(), "init created {}", other.display());
    // moto is stopped by its Drop.
    drop(moto);
}
