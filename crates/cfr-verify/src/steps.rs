//! The steps of verification that whole-bundle and excerpt verification
//! share: each records what it finds into the [`Check`] it is given.

use crate::check::{Check, CheckId, Checks, Code};
use crate::hex;
use crate::report::{Pin, Replay, Signer, Trust, VerifyOptions};
use cfr_bundle_format::bundle::Bundle;
use cfr_bundle_format::cose;
use cfr_bundle_format::import::check_signature;
use cfr_bundle_format::layout;
use cfr_bundle_format::seal::origin;
use cfr_contract::Contract;
use cfr_merkle::SignedCheckpoint;
use cfr_model::keys::PublicKey;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Checks 3 and 5 for one event: valid per the contract (false when not),
/// signed where the contract requires it (when `require_signed`; else the
/// caller's submission coverage decides), and every signature valid.
/// Returns whether it is valid, and whether its own signature verified
/// (`None` without one).
pub(crate) fn check_event(
    contract: &Contract,
    e: &cfr_model::Event,
    checks: &mut Checks,
    sig_checked: &mut u64,
    require_signed: bool,
) -> (bool, Option<bool>) {
    let mut ok = true;
    let mut own = None;
    let checked = if require_signed {
        contract.check_event(e)
    } else {
        contract.check_event_unsigned(e)
    };
    if let Err(err) = checked {
        if matches!(err, cfr_contract::EventError::Unsigned { .. }) {
            checks[CheckId::EventSignatures]
                .fail("event-signature-missing", format!("seq {}: {err}", e.seq));
        } else {
            checks[CheckId::Events].fail("event-invalid", format!("seq {}: {err}", e.seq));
            ok = false;
        }
    }
    if e.sig.is_some() {
        *sig_checked += 1;
        own = Some(true);
        if let Err(why) = check_signature(contract, e) {
            own = Some(false);
            checks[CheckId::EventSignatures].fail(
                "event-signature-invalid",
                format!("seq {} ({} by {}): {why}", e.seq, e.kind, e.actor),
            );
        }
    }
    (ok, own)
}

/// Check 4's first half: the checkpoint parses, names this contract's log
/// and is signed by the recorder; its witness cosignatures verify, and as
/// many pinned witnesses cosigned as the trust policy requires. Returns
/// it when it parses.
pub(crate) fn read_checkpoint(
    bundle: &Bundle,
    contract: &Contract,
    keys: &Keys,
    trust: &Trust,
    c: &mut Check,
) -> Option<cfr_merkle::Checkpoint> {
    let note = match bundle.read_small(layout::CHECKPOINT) {
        Ok(Some(note)) => note,
        Ok(None) => {
            c.fail("member-missing", "log/checkpoint is missing");
            return None;
        }
        Err(e) => {
            c.fail("io", format!("log/checkpoint: {e}"));
            return None;
        }
    };
    let sc = match SignedCheckpoint::parse(&note) {
        Ok(sc) => sc,
        Err(e) => {
            c.fail("checkpoint-invalid", format!("log/checkpoint: {e}"));
            return None;
        }
    };
    let cp = sc.checkpoint().clone();
    let want_origin = origin(&contract.id);
    if cp.origin != want_origin {
        c.fail(
            "checkpoint-origin-mismatch",
            format!(
                "checkpoint origin {:?}, expected {want_origin:?}",
                cp.origin
            ),
        );
    }
    match sc.verify(&want_origin, &keys.recorder.0) {
        Ok(_) => c.pass(format!(
            "checkpoint signed by the recorder ({})",
            keys.recorder.fingerprint()
        )),
        Err(e) => c.fail(
            "checkpoint-signature-invalid",
            format!("log/checkpoint: {e}"),
        ),
    }
    check_cosignatures(&sc, contract, trust, &want_origin, c);
    Some(cp)
}

/// Check 4's witness cosignatures (C2SP `cosignature/v1`): every line
/// under the name of a witness the contract names is verified with the
/// pinned key, else the contract's; only a verified cosignature by a
/// witness whose key is pinned (and equal to the contract's) counts
/// towards `[require] witnesses`. Lines under other names, or with
/// another key ID, are reported as not checked and never counted.
fn check_cosignatures(
    sc: &SignedCheckpoint,
    contract: &Contract,
    trust: &Trust,
    recorder_name: &str,
    c: &mut Check,
) {
    let mut counted: Vec<&str> = Vec::new();
    for line in sc.signatures() {
        let name = line.key_name();
        if name == recorder_name {
            continue; // the recorder's signature, verified above
        }
        let Some(party) = contract.parties.witnesses.get(name) else {
            c.note(format!(
                "signature line by {name:?} (key ID {:08x}): not checked, the contract names no witness {name:?}",
                line.key_id()
            ));
            continue;
        };
        let pinned = trust.witnesses.get(name);
        let key = pinned.unwrap_or(&party.key);
        let want_id = cfr_merkle::cosignature_key_id(name, &key.0);
        if line.key_id() != want_id {
            c.note(format!(
                "signature line by witness {name} with key ID {:08x}: not checked, not the cosignature/v1 key ID of its key {} ({want_id:08x})",
                line.key_id(),
                key.fingerprint()
            ));
            continue;
        }
        match sc.verify_cosignature(name, &key.0) {
            Ok(cosigned) => {
                let when = i64::try_from(cosigned.timestamp)
                    .ok()
                    .and_then(|t| t.checked_mul(1_000_000_000))
                    .map_or_else(
                        || format!("{} s after 1970", cosigned.timestamp),
                        cfr_model::time::format_rfc3339,
                    );
                let pin = if pinned.is_none() {
                    ", key not pinned: not counted towards [require] witnesses"
                } else {
                    ""
                };
                c.pass(format!(
                    "cosigned by witness {name} ({}) at {when}{pin}",
                    key.fingerprint()
                ));
                if pinned == Some(&party.key) {
                    counted.push(name);
                }
            }
            Err(e) => c.fail(
                Code::WitnessCosignatureInvalid,
                format!(
                    "the cosignature by witness {name} ({}) does not verify: {e}",
                    key.fingerprint()
                ),
            ),
        }
    }
    let need = trust.require.witnesses;
    if need == 0 {
        return;
    }
    let plural = |n: u64| if n == 1 { "witness" } else { "witnesses" };
    let got = counted.len() as u64;
    let names = if counted.is_empty() {
        String::new()
    } else {
        format!(" ({})", counted.join(", "))
    };
    if got >= u64::from(need) {
        c.pass(format!(
            "cosigned by {got} pinned {}{names}: the trust policy requires {need}",
            plural(got)
        ));
    } else {
        c.fail(
            Code::WitnessQuorumNotMet,
            format!(
                "the trust policy requires cosignatures by {need} pinned {}; {got} verified{names}",
                plural(u64::from(need))
            ),
        );
    }
}

/// A small member's bytes, or the failure to report: `member-missing`, or
/// `io` naming why it could not be read (too large, an I/O error).
pub(crate) fn small_member(bundle: &Bundle, name: &str) -> Result<Vec<u8>, (&'static str, String)> {
    match bundle.read_small(name) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(("member-missing", format!("{name} is missing"))),
        Err(e) => Err(("io", format!("{name}: {e}"))),
    }
}

/// Check 1 (without the pass note): every member against the manifest's
/// list, by name, order, size and SHA-256 (chunks are hashed with the events).
pub(crate) fn check_members(bundle: &Bundle, c: &mut Check) {
    let m = &bundle.manifest;
    let listed: BTreeMap<&str, &cfr_bundle_format::manifest::MemberEntry> =
        m.members.iter().map(|e| (e.name.as_str(), e)).collect();
    let in_archive: Vec<&str> = bundle
        .members()
        .iter()
        .map(|x| x.name())
        .filter(|n| *n != layout::MANIFEST && !n.starts_with("manifest."))
        .collect();
    let listed_names: Vec<&str> = m.members.iter().map(|e| e.name.as_str()).collect();
    for n in &in_archive {
        if !listed.contains_key(n) {
            c.fail(
                "member-unexpected",
                format!("{n} is in the archive but not in the manifest"),
            );
        }
    }
    for n in &listed_names {
        if !in_archive.contains(n) {
            c.fail(
                "member-missing",
                format!("{n} is in the manifest but not in the archive"),
            );
        }
    }
    if in_archive
        .iter()
        .filter(|n| listed.contains_key(*n))
        .collect::<Vec<_>>()
        != listed_names
            .iter()
            .filter(|n| in_archive.contains(n))
            .collect::<Vec<_>>()
    {
        c.fail(
            "member-order",
            "the manifest lists the members in another order than the archive",
        );
    }
    for tm in bundle.members() {
        let Some(e) = listed.get(tm.name()) else {
            continue;
        };
        if tm.size() != e.size {
            c.fail(
                "member-size-mismatch",
                format!(
                    "{}: {} bytes; the manifest says {}",
                    tm.name(),
                    tm.size(),
                    e.size
                ),
            );
            continue;
        }
        if layout::chunk_index(tm.name()).is_some() {
            continue; // hashed while reading the events
        }
        let mut h = Sha256::new();
        let mut sink = HashSink(&mut h);
        if let Err(err) = bundle.copy_member(tm, &mut sink) {
            c.fail("io", format!("{}: {err}", tm.name()));
            continue;
        }
        let d: [u8; 32] = h.finalize().into();
        if d != e.sha256 {
            c.fail(
                "member-digest-mismatch",
                format!(
                    "{}: SHA-256 {} but the manifest says {}",
                    tm.name(),
                    hex(&d),
                    hex(&e.sha256)
                ),
            );
        }
    }
    if m.log.chunks.len()
        != bundle
            .members()
            .iter()
            .filter(|x| layout::chunk_index(x.name()).is_some())
            .count()
    {
        c.fail(
            "member-missing",
            "the manifest's chunk list does not match the archive's event chunks",
        );
    }
    for (i, ch) in m.log.chunks.iter().enumerate() {
        if ch.name != layout::chunk_name(i as u32) {
            c.fail(
                "manifest-invalid",
                format!(
                    "chunk #{i} is named {:?}, expected {:?}",
                    ch.name,
                    layout::chunk_name(i as u32)
                ),
            );
        }
    }
}

/// The bundle's contract, checked against its compiled form and the
/// manifest's contract id and digest; failures go to check 1.
pub(crate) fn contract_of(bundle: &Bundle, c: &mut Check) -> Option<Contract> {
    let contract = match load_contract(bundle) {
        Ok(contract) => contract,
        Err((code, detail)) => {
            c.fail(code, detail);
            return None;
        }
    };
    let digest: [u8; 32] = Sha256::digest(contract.to_cbor()).into();
    if digest != bundle.manifest.contract_sha256 {
        c.fail(
            Code::ContractDigestMismatch,
            format!(
                "the manifest's contract digest {} is not the SHA-256 of contract/contract.cbor ({})",
                hex(&bundle.manifest.contract_sha256),
                hex(&digest)
            ),
        );
    }
    if contract.id != bundle.manifest.contract_id {
        c.fail(
            "contract-mismatch",
            format!(
                "the manifest names contract {:?}; the bundle holds {:?}",
                bundle.manifest.contract_id, contract.id
            ),
        );
    }
    Some(contract)
}

/// The keys each role is verified with: the pinned key when given, else
/// the contract's.
#[derive(Clone, Copy)]
pub(crate) struct Keys {
    pub(crate) recorder: PublicKey,
    pub(crate) provider: PublicKey,
    pub(crate) user: PublicKey,
}

/// The signers the contract names, their pinning state, and the keys to
/// verify with; a pin mismatch fails check 2, naming the role.
pub(crate) fn signers(
    contract: &Contract,
    trust: &Trust,
    checks: &mut Checks,
) -> (Vec<Signer>, Keys) {
    let opts_trust = trust;
    let pin_of = |pinned: &Option<PublicKey>, actual: &PublicKey| match pinned {
        None => Pin::NotPinned,
        Some(p) if p == actual => Pin::Pinned,
        Some(_) => Pin::Mismatch,
    };
    let parties = &contract.parties;
    let mut signers = vec![
        Signer {
            role: "recorder".into(),
            name: parties.recorder.name.clone(),
            fingerprint: parties.recorder.key.fingerprint(),
            pin: pin_of(&opts_trust.recorder, &parties.recorder.key),
        },
        Signer {
            role: "provider".into(),
            name: parties.provider.name.clone(),
            fingerprint: parties.provider.key.fingerprint(),
            pin: pin_of(&opts_trust.provider, &parties.provider.key),
        },
        Signer {
            role: "user".into(),
            name: parties.user.name.clone(),
            fingerprint: parties.user.key.fingerprint(),
            pin: pin_of(&opts_trust.user, &parties.user.key),
        },
    ];
    for (id, p) in &parties.attestors {
        signers.push(Signer {
            role: id.clone(),
            name: p.name.clone(),
            fingerprint: p.key.fingerprint(),
            pin: pin_of(&opts_trust.attestors.get(id).copied(), &p.key),
        });
    }
    for (id, p) in &parties.witnesses {
        signers.push(Signer {
            role: format!("witness {id}"),
            name: p.name.clone(),
            fingerprint: p.key.fingerprint(),
            pin: pin_of(&opts_trust.witnesses.get(id).copied(), &p.key),
        });
    }
    // Every pinned key is compared with the key the bundle names for that
    // role, whether or not that role signed anything in this bundle.
    for s in &signers {
        if s.pin == Pin::Mismatch {
            checks[CheckId::ManifestSignature].fail(
                Code::KeyPinMismatch,
                format!(
                    "the bundle's {} key {} is not the pinned key",
                    s.role, s.fingerprint
                ),
            );
        }
    }
    let keys = Keys {
        recorder: opts_trust.recorder.unwrap_or(parties.recorder.key),
        provider: opts_trust.provider.unwrap_or(parties.provider.key),
        user: opts_trust.user.unwrap_or(parties.user.key),
    };
    (signers, keys)
}

/// The key each submitting party's signatures are checked with: the
/// pinned key when given, else the contract's.
pub(crate) fn submission_keys(
    contract: &Contract,
    trust: &Trust,
    keys: &Keys,
) -> BTreeMap<String, cfr_model::keys::VerifyingKey> {
    let mut out = cfr_bundle_format::submission::contract_keys(contract);
    out.insert("provider".into(), keys.provider.0);
    out.insert("user".into(), keys.user.0);
    for (id, k) in &trust.attestors {
        if let Some(slot) = out.get_mut(id) {
            *slot = k.0;
        }
    }
    out
}

/// Check 2: `manifest` signed by the recorder in `sig_name`; co-signatures
/// by the provider and the user where present.
pub(crate) fn check_manifest_signatures(
    bundle: &Bundle,
    manifest: &[u8],
    sig_name: &str,
    cosig_name: fn(&str) -> String,
    keys: &Keys,
    c: &mut Check,
) {
    match bundle.read_small(sig_name) {
        Ok(Some(sig)) => match cose::verify_detached(&sig, manifest, &keys.recorder.0) {
            Ok(_) => c.pass(format!(
                "signed by the recorder ({})",
                keys.recorder.fingerprint()
            )),
            Err(e) => c.fail("manifest-signature-invalid", format!("{sig_name}: {e}")),
        },
        Ok(None) => c.fail("member-missing", format!("{sig_name} is missing")),
        Err(e) => c.fail("io", format!("{sig_name}: {e}")),
    }
    for (role, key) in [("provider", &keys.provider), ("user", &keys.user)] {
        let name = cosig_name(role);
        match bundle.read_small(&name) {
            Ok(Some(sig)) => match cose::verify_detached(&sig, manifest, &key.0) {
                Ok(_) => c.pass(format!("co-signed by the {role} ({})", key.fingerprint())),
                Err(e) => c.fail("cosignature-invalid", format!("{name}: {e}")),
            },
            Ok(None) => {}
            Err(e) => c.fail("io", format!("{name}: {e}")),
        }
    }
}

/// Check 2's timestamp: `manifest.tsr`, an RFC 3161 `TimeStampResp`
/// over SHA-256 of `manifest`, verified offline against the pinned TSA
/// certificate ([`Trust::tsa`]). Returns what it establishes only when
/// every step held, the pin included; what could not be checked is a gap
/// (`timestamp not checked: no TSA certificate pinned`), never a pass.
pub(crate) fn check_timestamp(
    bundle: &Bundle,
    manifest: &[u8],
    trust: &Trust,
    c: &mut Check,
    gaps: &mut Vec<String>,
) -> Option<cfr_timestamp::Verified> {
    let name = layout::MANIFEST_TSR;
    let tsr = match bundle.read_member_max(name, cfr_timestamp::MAX_TOKEN_BYTES as u64) {
        Ok(Some(b)) => b,
        Ok(None) => {
            if trust.require.timestamp {
                c.fail(
                    Code::TimestampMissing,
                    "the trust policy requires an RFC 3161 timestamp by a pinned TSA, and the bundle carries none (manifest.tsr)",
                );
            } else if let Some(pin) = &trust.tsa {
                c.fail(
                    Code::TimestampMissing,
                    format!(
                        "a TSA certificate is pinned ({}), but the bundle carries no timestamp (manifest.tsr)",
                        pin.subject()
                    ),
                );
            } else {
                c.note("no RFC 3161 timestamp (manifest.tsr)");
            }
            return None;
        }
        Err(e) => {
            c.fail(Code::TimestampInvalid, format!("{name}: {e}"));
            return None;
        }
    };
    let failed = |c: &mut Check, e: cfr_timestamp::TimestampError| {
        c.fail(Code::of(e.code()), format!("{name}: {e}"));
    };
    let token = match cfr_timestamp::Token::from_reply(&tsr) {
        Ok(t) => t,
        Err(e) => {
            failed(c, e);
            return None;
        }
    };
    let Some(pin) = &trust.tsa else {
        // Without a pin the TSA is whoever made the certificate: check
        // what can be checked (a broken token is a failure whoever signed
        // it), and say the rest was not.
        let why = "no TSA certificate pinned (--tsa-cert or [keys] tsa)";
        match token.verify_unpinned(manifest) {
            Ok(_) | Err(cfr_timestamp::TimestampError::Untrusted(_)) => {
                c.note(format!("{name}: timestamp not checked: {why}"));
                gaps.push("timestamp not checked: no TSA certificate pinned".into());
            }
            Err(e) => failed(c, e),
        }
        if trust.require.timestamp {
            c.fail(
                Code::TimestampUntrusted,
                format!(
                    "the trust policy requires an RFC 3161 timestamp by a pinned TSA, and {why}"
                ),
            );
        }
        return None;
    };
    match token.verify(manifest, pin) {
        Ok(v) => {
            c.pass(format!(
                "timestamped by {} at {} ({name}; {})",
                v.tsa,
                v.time,
                match v.pinned {
                    Some(cfr_timestamp::PinnedBy::Itself) =>
                        "the pinned TSA certificate".to_owned(),
                    _ => format!("a TSA certificate issued by the pinned {}", pin.subject()),
                }
            ));
            Some(v)
        }
        Err(e) => {
            failed(c, e);
            None
        }
    }
}

/// Check 6: the contract's signatures by the provider and the user.
/// Returns the roles whose signature is absent or does not verify.
pub(crate) fn check_contract_signatures(
    bundle: &Bundle,
    keys: &Keys,
    c: &mut Check,
) -> Vec<&'static str> {
    let mut unsigned = Vec::new();
    let cbor = bundle
        .read_small(layout::CONTRACT_CBOR)
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut any = false;
    for (role, key) in [("provider", &keys.provider), ("user", &keys.user)] {
        let name = layout::contract_sig(role);
        match bundle.read_small(&name) {
            Ok(Some(sig)) => {
                any = true;
                match cose::verify_detached(&sig, &cbor, &key.0) {
                    Ok(_) => c.pass(format!("signed by the {role} ({})", key.fingerprint())),
                    Err(e) => {
                        unsigned.push(role);
                        c.fail("contract-signature-invalid", format!("{name}: {e}"))
                    }
                }
            }
            Ok(None) => {
                unsigned.push(role);
                c.note(format!(
                    "the bundle carries no contract signature by the {role}"
                ))
            }
            Err(e) => {
                unsigned.push(role);
                c.fail("io", format!("{name}: {e}"))
            }
        }
    }
    if !any {
        c.skip("not checked: the bundle carries no contract signature");
    }
    unsigned
}

/// Check 7: the analyzer's digest, and its certificate where a regulator
/// key is pinned.
pub(crate) fn check_analyzer(bundle: &Bundle, opts: &VerifyOptions<'_>, c: &mut Check) {
    let m = &bundle.manifest;
    let listed: BTreeMap<&str, [u8; 32]> = m
        .members
        .iter()
        .map(|e| (e.name.as_str(), e.sha256))
        .collect();
    match (
        &m.analyzer_sha256,
        bundle.member(layout::ANALYZER).is_some(),
    ) {
        (None, false) if opts.trust.require.analyzer_certified => c.fail(
            Code::AnalyzerNotCertified,
            "the trust policy requires a certified analyzer, and the bundle carries no analyzer",
        ),
        (None, false) => c.skip("not checked: the bundle carries no analyzer"),
        (Some(_), false) | (None, true) => c.fail(
            "analyzer-digest-mismatch",
            "the manifest and the archive disagree on whether there is an analyzer",
        ),
        (Some(d), true) => {
            let listed = listed.get(layout::ANALYZER).copied();
            if listed != Some(*d) {
                c.fail(
                    "analyzer-digest-mismatch",
                    "the manifest's analyzer digest differs from the analyzer member's",
                );
            } else {
                c.pass(format!("analyzer SHA-256 {}", hex(d)));
            }
            match opts.shipped_analyzer {
                Some(s) if s == *d => c.note("this is the analyzer this release of cfr ships"),
                _ => c.note("this is NOT the analyzer this release of cfr ships"),
            }
            match (bundle.read_small(layout::ANALYZER_CERT), &opts.trust.regulator) {
                (Ok(Some(cert)), Some(reg)) if cose::inspect(&cert).is_ok_and(|i| i.key_id != cose::key_id(&reg.0)) => {
                    c.fail(
                        Code::KeyPinMismatch,
                        format!(
                            "analyzer/certificate.sig is signed by another key than the pinned regulator key ({})",
                            reg.fingerprint()
                        ),
                    );
                }
                (Ok(Some(cert)), Some(reg)) => match cose::verify_detached(&cert, d, &reg.0) {
                    Ok(_) => c.pass(format!("certified by the pinned regulator key ({})", reg.fingerprint())),
                    Err(e) => c.fail("analyzer-certificate-invalid", format!("analyzer/certificate.sig: {e}")),
                },
                (_, None) if opts.trust.require.analyzer_certified => c.fail(Code::AnalyzerNotCertified, "the trust policy requires a certified analyzer, and no regulator key is pinned (--regulator-key or [keys] regulator)"),
                (Ok(Some(_)), None) => c.note("a certificate is present but no regulator key is pinned (--regulator-key): not checked"),
                (Ok(None), Some(_)) if opts.trust.require.analyzer_certified => c.fail(Code::AnalyzerNotCertified, "the trust policy requires a certificate of the analyzer by the pinned regulator key, and the bundle carries none"),
                (Ok(None), Some(_)) => c.fail("analyzer-certificate-missing", "a regulator key is pinned but the bundle carries no analyzer certificate"),
                (Ok(None), None) => c.note("no analyzer certificate"),
                (Err(e), _) => c.fail("io", format!("analyzer/certificate.sig: {e}")),
            }
        }
    }
}

/// Streams the member `m` against `expected`, without reading it into
/// memory: whether it holds exactly those bytes, and its SHA-256.
pub(crate) fn compare_member(
    bundle: &Bundle,
    m: &cfr_bundle_format::tar::TarMember,
    expected: &[u8],
) -> std::io::Result<(bool, [u8; 32])> {
    struct Compare<'a> {
        rest: &'a [u8],
        equal: bool,
        hash: Sha256,
    }
    impl std::io::Write for Compare<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.hash.update(buf);
            match self.rest.strip_prefix(buf) {
                Some(rest) if self.equal => self.rest = rest,
                _ => self.equal = false,
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Compare {
        rest: expected,
        equal: true,
        hash: Sha256::new(),
    };
    bundle.copy_member(m, &mut sink)?;
    Ok((
        sink.equal && sink.rest.is_empty(),
        sink.hash.finalize().into(),
    ))
}

struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn load_contract(bundle: &Bundle) -> Result<Contract, (&'static str, String)> {
    let toml_bytes = bundle
        .read_small(layout::CONTRACT_TOML)
        .map_err(|e| ("io", format!("contract/contract.toml: {e}")))?
        .ok_or((
            "member-missing",
            "contract/contract.toml is missing".to_owned(),
        ))?;
    let cbor = bundle
        .read_small(layout::CONTRACT_CBOR)
        .map_err(|e| ("io", format!("contract/contract.cbor: {e}")))?
        .ok_or((
            "member-missing",
            "contract/contract.cbor is missing".to_owned(),
        ))?;
    let text = String::from_utf8(toml_bytes).map_err(|_| {
        (
            "contract-invalid",
            "contract/contract.toml is not UTF-8".to_owned(),
        )
    })?;
    let from_toml = Contract::from_toml(&text)
        .map_err(|e| ("contract-invalid", format!("contract/contract.toml: {e}")))?;
    let from_cbor = Contract::from_cbor(&cbor)
        .map_err(|e| ("contract-invalid", format!("contract/contract.cbor: {e}")))?;
    if from_toml.to_cbor() != cbor {
        return Err((
            "contract-mismatch",
            "contract/contract.cbor is not the compiled form of contract/contract.toml".to_owned(),
        ));
    }
    Ok(from_cbor)
}

/// A replay in progress: the bundled analyzer, another module, or native.
pub(crate) enum ReplayRun {
    Wasm(Box<crate::sandbox::Run>),
    Native(Box<cfr_rules::Engine>),
}

type ReplayFailure = (&'static str, String);

impl crate::sandbox::Feed for ReplayRun {
    fn feed(&mut self, raw: &[u8], events: u64) -> Result<(), ReplayFailure> {
        match self {
            ReplayRun::Wasm(r) => crate::sandbox::Feed::feed(r.as_mut(), raw, events),
            ReplayRun::Native(engine) => engine.feed(raw).map_err(|e| match e {
                cfr_rules::FeedError::Event { error, .. } => {
                    ("event-noncanonical", error.to_string())
                }
                cfr_rules::FeedError::Engine(e) => ("replay-failed", e.to_string()),
            }),
        }
    }

    fn finish(self) -> Result<Vec<u8>, ReplayFailure> {
        match self {
            ReplayRun::Wasm(r) => crate::sandbox::Feed::finish(*r),
            ReplayRun::Native(engine) => Ok(engine.finish().to_cbor()),
        }
    }
}

/// Fails check 8 when the events could not all be read: with the
/// analyzer's own failure if it did not even start, otherwise
/// `replay-incomplete`. The worker is stopped without its verdict.
pub(crate) fn replay_incomplete(replay: crate::sandbox::Worker, check: &mut Check) {
    let (code, detail) = replay.abandon().unwrap_or((
        "replay-incomplete",
        "the events could not all be read, so the verdict cannot be replayed".to_owned(),
    ));
    check.fail(code, detail);
}

/// Queues a chunk for the replay worker; when the worker has stopped
/// early, takes it and records its error in `check` (check 8).
pub(crate) fn feed_replay(
    replay: &mut Option<crate::sandbox::Worker>,
    raw: Vec<u8>,
    events: u64,
    check: &mut Check,
) {
    let stopped = replay.as_mut().is_some_and(|r| !r.feed(raw, events));
    if stopped {
        if let Some(Err((code, detail))) = replay.take().map(crate::sandbox::Worker::finish) {
            check.fail(code, detail);
        }
    }
}

/// Starts the replay check 8 asks for, on its own thread.
///
/// The analyzer compiles on the replay's thread, while the caller reads and
/// checks the log: a module that does not compile stops the worker, and
/// its failure is the replay's (from `feed_replay`, `Worker::finish` or
/// [`replay_incomplete`]).
pub(crate) fn start_replay(
    bundle: &Bundle,
    contract: &Contract,
    how: &Replay,
    check: &mut Check,
) -> Option<crate::sandbox::Worker> {
    use crate::sandbox::Worker;
    let native = |contract| {
        Some(Worker::spawn(ReplayRun::Native(Box::new(
            cfr_rules::Engine::new(contract),
        ))))
    };
    let contract_cbor = contract.to_cbor();
    let module = match how {
        Replay::Native => {
            check.note("replayed with the rule engine built into this release (--native)");
            return native(contract);
        }
        Replay::Module(m) => {
            check.note(format!(
                "replayed with the analyzer given on the command line (SHA-256 {})",
                hex(&Sha256::digest(m))
            ));
            m.clone()
        }
        Replay::Bundled => {
            match bundle.read_member_max(layout::ANALYZER, cfr_bundle_format::bundle::MAX_ANALYZER)
            {
                Ok(Some(m)) => {
                    check.note("replayed with the bundled analyzer");
                    m
                }
                Ok(None) => {
                    check.note("the bundle carries no analyzer: replayed with the rule engine built into this release");
                    return native(contract);
                }
                Err(e) => {
                    check.fail("io", format!("analyzer/analyzer.wasm: {e}"));
                    return None;
                }
            }
        }
    };
    Some(Worker::start(move || {
        crate::sandbox::start(&module, &contract_cbor).map(|run| ReplayRun::Wasm(Box::new(run)))
    }))
}
