//! `integrity`: what was written is read back intact until deleted.

use super::{bump, show, Outcome, Raw};
use crate::plan::IntegrityCfg;
use cfr_model::{Event, Value};
use std::collections::BTreeMap;

struct Stored {
    value: Option<Value>,
    seq: u64,
}

pub(crate) struct IntegrityState {
    cfg: IntegrityCfg,
    write_kind: String,
    read_kind: String,
    /// Per key, the value of the last write.
    store: BTreeMap<Value, Stored>,
    checked: u64,
    fulfilled: u64,
    raw: Vec<Raw>,
}

impl IntegrityState {
    pub fn new(cfg: IntegrityCfg, write_kind: String, read_kind: String) -> Self {
        IntegrityState {
            cfg,
            write_kind,
            read_kind,
            store: BTreeMap::new(),
            checked: 0,
            fulfilled: 0,
            raw: Vec::new(),
        }
    }

    pub fn write(&mut self, ev: &Event) {
        let Some(key) = ev.attrs.get(&self.cfg.write_key) else {
            return;
        };
        let value = self
            .cfg
            .write_value
            .as_ref()
            .and_then(|name| ev.attrs.get(name))
            .cloned();
        let stored = Stored { value, seq: ev.seq };
        match self.store.get_mut(key) {
            Some(slot) => *slot = stored,
            None => {
                self.store.insert(key.clone(), stored);
            }
        }
    }

    pub fn delete(&mut self, ev: &Event) {
        if let Some(name) = &self.cfg.delete_key {
            if let Some(key) = ev.attrs.get(name) {
                self.store.remove(key);
            }
        }
    }

    pub fn read(&mut self, ev: &Event) {
        let Some(key) = ev.attrs.get(&self.cfg.read_key) else {
            return;
        };
        // Reads of keys never written, or deleted, judge nothing.
        let Some(stored) = self.store.get(key) else {
            return;
        };
        // A read without a `found` attribute counts as found.
        let found = !matches!(
            self.cfg.read_found.as_ref().and_then(|f| ev.attrs.get(f)),
            Some(Value::Bool(false))
        );
        // Only an incident is described: most reads are fulfilled, and
        // formatting is a large share of the replay's work per read.
        let head = || {
            format!(
                "{} of {} {} (seq {})",
                self.read_kind,
                self.cfg.read_key,
                show(key),
                ev.seq
            )
        };
        if !found {
            bump(&mut self.checked);
            self.raw.push(Raw::closed(
                "data_lost",
                ev.time,
                ev.time,
                vec![stored.seq, ev.seq],
                format!(
                    "{} found nothing, but {} seq {} stored it and it was not deleted since",
                    head(),
                    self.write_kind,
                    stored.seq
                ),
            ));
            return;
        }
        // A found read without a value judges nothing, nor does a write
        // that recorded no value.
        let read_value = self.cfg.read_value.as_ref().and_then(|n| ev.attrs.get(n));
        let (Some(read_value), Some(written)) = (read_value, stored.value.as_ref()) else {
            return;
        };
        bump(&mut self.checked);
        if read_value == written {
            bump(&mut self.fulfilled);
            return;
        }
        let vname = self.cfg.read_value.as_deref().unwrap_or("value");
        self.raw.push(Raw::closed(
            "data_corrupted",
            ev.time,
            ev.time,
            vec![stored.seq, ev.seq],
            format!(
                "{} returned {vname} {}, but {} seq {} stored {}",
                head(),
                show(read_value),
                self.write_kind,
                stored.seq,
                show(written)
            ),
        ));
    }

    pub fn finish(self) -> Outcome {
        Outcome {
            raw: self.raw,
            checked: self.checked,
            fulfilled: self.fulfilled,
            pending: 0,
        }
    }
}
