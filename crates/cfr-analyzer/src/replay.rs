//! The analysis behind the ABI: contract in, events in chunks, verdict out.

use cfr_contract::Contract;
use cfr_rules::{Engine, EngineError, FeedError};
use std::fmt;

/// Why a replay failed; its text is what the host reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnalysisError {
    /// The compiled contract does not decode or is not valid.
    Contract {
        /// What `cfr-contract` reported.
        reason: String,
    },
    /// An event of a chunk does not decode.
    Event {
        /// 0-based index of the chunk.
        chunk: u64,
        /// Byte offset of the bad event in its chunk.
        offset: usize,
        /// What the decoder reported.
        reason: String,
    },
    /// The rule engine refused an event (seq out of order, time going
    /// backwards...).
    Engine(EngineError),
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisError::Contract { reason } => write!(f, "contract: {reason}"),
            AnalysisError::Event {
                chunk,
                offset,
                reason,
            } => write!(f, "chunk {chunk}, byte {offset}: bad event: {reason}"),
            AnalysisError::Engine(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AnalysisError {}

/// One replay of a contract over a log, fed chunk by chunk: the
/// `cfr-rules` [`Engine`] behind the analyzer ABI.
///
/// The verdict is byte for byte what the native path computes
/// (`cfr_rules::analyze(..).to_cbor()`), whatever the chunking.
pub struct Replay {
    engine: Engine,
    chunks: u64,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("chunks", &self.chunks)
            .field("events", &self.engine.events())
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// Starts a replay of the compiled contract (canonical CBOR).
    pub fn begin(contract: &[u8]) -> Result<Replay, AnalysisError> {
        let contract = Contract::from_cbor(contract).map_err(|e| AnalysisError::Contract {
            reason: e.to_string(),
        })?;
        Ok(Replay {
            engine: Engine::new(&contract),
            chunks: 0,
        })
    }

    /// Replays one chunk of whole events (an RFC 8742 CBOR sequence).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), AnalysisError> {
        let index = self.chunks;
        self.chunks += 1;
        self.engine.feed(chunk).map_err(|e| match e {
            FeedError::Event { offset, error } => AnalysisError::Event {
                chunk: index,
                offset,
                reason: error.to_string(),
            },
            FeedError::Engine(e) => AnalysisError::Engine(e),
        })
    }

    /// Ends the replay and returns the verdict (canonical CBOR).
    pub fn finish(self) -> Result<Vec<u8>, AnalysisError> {
        Ok(self.engine.finish().to_cbor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfr_model::{Attrs, Event, Value};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const KEY: &str = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    fn contract() -> Result<Contract, cfr_contract::ContractError> {
        Contract::from_toml(&format!(
            r#"
format = "cfr-contract/1"
id = "acme"
title = "ACME"
[parties]
provider = {{ name = "ACME", key = "{KEY}" }}
user = {{ name = "Example", key = "{KEY}" }}
recorder = {{ name = "Rec", key = "{KEY}" }}
[events.request]
by = "user"
attrs = {{ id = "text" }}
[events.response]
by = "provider"
attrs = {{ id = "text", status = "int" }}
[[rules]]
id = "answer-in-time"
clause = "4.1"
type = "deadline"
party = "provider"
trigger = "request"
reply = "response"
match = ["id"]
within = "2s"
"#
        ))
    }

    /// Requests every second; every third answered late, every fifth never.
    fn log(n: u64) -> Vec<Event> {
        let mut events = Vec::new();
        let mut pending = Vec::new();
        for i in 0..n {
            let t = 1_772_445_600_000_000_000 + i as i64 * 1_000_000_000;
            let mut attrs = Attrs::new();
            attrs.insert("id", Value::Text(format!("r-{i}")));
            events.push(("request", "user", t, attrs));
            if i % 5 != 0 {
                pending.push((
                    i,
                    t + if i % 3 == 0 {
                        3_500_000_000
                    } else {
                        400_000_000
                    },
                ));
            }
        }
        for (i, t) in pending {
            let mut attrs = Attrs::new();
            attrs.insert("id", Value::Text(format!("r-{i}")));
            attrs.insert("status", Value::Int(200));
            events.push(("response", "provider", t, attrs));
        }
        events.sort_by_key(|e| e.2);
        events
            .into_iter()
            .enumerate()
            .map(|(seq, (kind, actor, time, attrs))| Event {
                seq: seq as u64,
                time,
                kind: kind.into(),
                actor: actor.into(),
                attrs,
                sig: None,
            })
            .collect()
    }

    #[test]
    fn verdict_equals_the_native_engine_whatever_the_chunking() -> TestResult {
        let contract = contract()?;
        let events = log(50);
        let native = cfr_rules::analyze(&contract, events.clone())?.to_cbor();
        for per_chunk in [1, 7, 1000] {
            let mut replay = Replay::begin(&contract.to_cbor())?;
            for chunk in events.chunks(per_chunk) {
                let mut buf = Vec::new();
                for e in chunk {
                    e.encode_into(&mut buf);
                }
                replay.feed(&buf)?;
            }
            replay.feed(&[])?;
            assert_eq!(replay.finish()?, native, "chunks of {per_chunk}");
        }
        Ok(())
    }

    #[test]
    fn seqs_out_of_order_are_refused_by_the_engine() -> TestResult {
        let contract = contract()?;
        let events = log(5);
        let mut replay = Replay::begin(&contract.to_cbor())?;
        // Gaps are allowed (an excerpt has them); going back is not.
        replay.feed(&events[2].encode())?;
        let err = replay.feed(&events[1].encode());
        assert!(
            matches!(
                err,
                Err(AnalysisError::Engine(EngineError::SeqNotIncreasing { .. }))
            ),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn bad_event_bytes_are_located() -> TestResult {
        let contract = contract()?;
        let events = log(2);
        let mut replay = Replay::begin(&contract.to_cbor())?;
        let mut buf = events[0].encode();
        let good = buf.len();
        buf.extend_from_slice(&[0xa1, 0xff]);
        let err = replay.feed(&buf);
        assert!(
            matches!(&err, Err(AnalysisError::Event { chunk: 0, offset, .. }) if *offset == good),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn invalid_contract_is_refused() {
        for bytes in [&[][..], &[0xa0], &[0x18, 0x01]] {
            assert!(matches!(
                Replay::begin(bytes),
                Err(AnalysisError::Contract { .. })
            ));
        }
    }
}
