//! Receipts held against a bundle (`verify --receipts`): what the
//! recorder promised a party, each a `cfr-receipt/1` it signed, checked
//! against the log the bundle carries.
//!
//! A receipt is first checked on its own (`Receipts::new`): it must be
//! for the bundle's contract and verify under the recorder's key (its
//! checkpoint signed by it, its range proof placing its events in that
//! tree). One that does not is no statement of this recorder, so it is a
//! usage error ([`VerifyError::Receipt`]), never a finding. A verified
//! receipt is then held against the bundle while the events stream past:
//!
//! * every event it names below the bundle's size must stand at its seq
//!   with its leaf hash;
//! * its checkpoint, when its size is within the bundle's, must sign the
//!   root the bundle's tree has at that size (the bundle's tree extends it).
//!
//! A contradiction is the recorder's signature against the recorder's
//! signature: a [`RecorderFinding`], failing check 4 with
//! `receipt-contradicted`. Receipts (or parts) beyond the bundle's last
//! event are reported as not checked: the bundle may be an earlier prefix.

use crate::report::{RecorderFinding, VerifyError};
use cfr_bundle_format::receipt::Receipt;
use cfr_merkle::ed25519_dalek::VerifyingKey;
use cfr_merkle::Hash;

/// A receipt with the name it was given by (its file).
#[derive(Clone, Debug)]
pub struct NamedReceipt {
    /// Where it came from, as the reports name it.
    pub name: String,
    /// The receipt.
    pub receipt: Receipt,
}

/// Reads receipts: each path a `.receipt` file, or a directory whose
/// `*.receipt` files are all read (in name order).
pub fn read_receipts(paths: &[std::path::PathBuf]) -> Result<Vec<NamedReceipt>, VerifyError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|source| VerifyError::Unreadable {
                path: p.clone(),
                source,
            })?;
            let mut inner: Vec<_> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "receipt"))
                .collect();
            inner.sort();
            files.extend(inner);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let name = f.display().to_string();
        let len = std::fs::metadata(&f)
            .map_err(|source| VerifyError::Unreadable {
                path: f.clone(),
                source,
            })?
            .len();
        if len > cfr_bundle_format::receipt::MAX_RECEIPT_BYTES as u64 {
            return Err(VerifyError::Receipt {
                name,
                reason: format!("{len} bytes, more than a receipt may be"),
            });
        }
        let bytes = std::fs::read(&f).map_err(|source| VerifyError::Unreadable {
            path: f.clone(),
            source,
        })?;
        let receipt = Receipt::decode(&bytes).map_err(|e| VerifyError::Receipt {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        out.push(NamedReceipt { name, receipt });
    }
    Ok(out)
}

/// The receipts being held against one bundle's event stream.
pub(crate) struct Receipts {
    list: Vec<Checked>,
    /// Indexes into `list` by first seq.
    order: Vec<usize>,
    /// Next of `order` not yet started.
    next: usize,
    /// Receipts whose range the stream is inside: (index, next event).
    active: Vec<(usize, usize)>,
    /// Checkpoint sizes wanted, ascending, with the roots seen.
    sizes: Vec<(u64, Option<Hash>)>,
    findings: Vec<RecorderFinding>,
    events_checked: u64,
}

struct Checked {
    named: NamedReceipt,
    size: u64,
    root: Hash,
}

impl Receipts {
    /// Checks each receipt on its own against the bundle's contract id and
    /// the recorder key (the pinned one when given).
    pub(crate) fn new(
        receipts: &[NamedReceipt],
        contract_id: &str,
        recorder_key: &VerifyingKey,
    ) -> Result<Receipts, VerifyError> {
        let mut list = Vec::with_capacity(receipts.len());
        for n in receipts {
            if n.receipt.contract != contract_id {
                return Err(VerifyError::Receipt {
                    name: n.name.clone(),
                    reason: format!(
                        "it is a receipt of contract {:?}; this bundle's is {contract_id:?}",
                        n.receipt.contract
                    ),
                });
            }
            let cp = n
                .receipt
                .verify(recorder_key)
                .map_err(|e| VerifyError::Receipt {
                    name: n.name.clone(),
                    reason: format!("{e} (it is no statement of this bundle's recorder)"),
                })?;
            list.push(Checked {
                named: n.clone(),
                size: cp.size,
                root: cp.root,
            });
        }
        let mut order: Vec<usize> = (0..list.len()).collect();
        order.sort_by_key(|&i| list[i].named.receipt.first);
        let mut sizes: Vec<u64> = list.iter().map(|c| c.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        Ok(Receipts {
            list,
            order,
            next: 0,
            active: Vec::new(),
            sizes: sizes.into_iter().map(|s| (s, None)).collect(),
            findings: Vec::new(),
            events_checked: 0,
        })
    }

    /// The bundle's event at `seq` has leaf hash `leaf`.
    pub(crate) fn leaf(&mut self, seq: u64, leaf: &Hash) {
        while let Some(&i) = self.order.get(self.next) {
            if self.list[i].named.receipt.first > seq {
                break;
            }
            self.next += 1;
            if self.list[i].named.receipt.end() > seq {
                let k = (seq - self.list[i].named.receipt.first) as usize;
                self.active.push((i, k));
            }
        }
        let list = &self.list;
        let findings = &mut self.findings;
        let mut checked = 0;
        self.active.retain_mut(|(i, k)| {
            let r = &list[*i].named.receipt;
            let e = &r.events[*k];
            checked += 1;
            if e.leaf != *leaf {
                findings.push(RecorderFinding {
                    receipt: list[*i].named.name.clone(),
                    party: r.party.clone(),
                    id: r.id.clone(),
                    seq: Some(seq),
                    detail: format!(
                        "the recorder's receipt gives seq {seq} (time {}) the leaf hash {}; the bundle's event at seq {seq} has {}",
                        cfr_model::time::format_rfc3339(e.time),
                        crate::hex(&e.leaf),
                        crate::hex(leaf)
                    ),
                });
            }
            *k += 1;
            *k < r.events.len()
        });
        self.events_checked += checked;
    }

    /// The bundle's tree of `size` events has root `root`, if a receipt
    /// wants that size.
    pub(crate) fn root(&mut self, size: u64, root: impl FnOnce() -> Hash) {
        if let Ok(i) = self.sizes.binary_search_by_key(&size, |s| s.0) {
            self.sizes[i].1 = Some(root());
        }
    }

    /// The findings, and a summary of what was and was not checked, once
    /// the whole log (of `total` events) has streamed past.
    pub(crate) fn finish(mut self, total: u64) -> (Vec<RecorderFinding>, String) {
        let mut beyond = 0usize;
        for c in &self.list {
            let r = &c.named.receipt;
            if r.end() > total {
                beyond += 1;
            }
            if c.size > total {
                continue;
            }
            let Ok(i) = self.sizes.binary_search_by_key(&c.size, |s| s.0) else {
                continue;
            };
            match self.sizes[i].1 {
                Some(root) if root == c.root => {}
                Some(root) => self.findings.push(RecorderFinding {
                    receipt: c.named.name.clone(),
                    party: r.party.clone(),
                    id: r.id.clone(),
                    seq: None,
                    detail: format!(
                        "the recorder's receipt carries a checkpoint it signed over {} events with root {}; this bundle's tree of {} events has root {}: the log was rewritten or shown differently",
                        c.size,
                        crate::hex(&c.root),
                        c.size,
                        crate::hex(&root)
                    ),
                }),
                // Only called once every event was read, so every size
                // within the log was reached.
                None => {}
            }
        }
        let n = self.list.len() as u64;
        let mut summary = format!(
            "{} held against this log: {} at their seqs checked",
            cfr_bundle_format::words::count(n, "receipt", "receipts"),
            cfr_bundle_format::words::count_thousands(self.events_checked, "event", "events"),
        );
        if beyond > 0 {
            summary.push_str(&format!(
                "; {} events after this bundle's last seq, not checked against it",
                cfr_bundle_format::words::count(beyond as u64, "receipt covers", "receipts cover")
            ));
        }
        (self.findings, summary)
    }
}
