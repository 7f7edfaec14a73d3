//! Resource limits of one analyzer run.

/// How much memory and computation one analyzer run may use.
///
/// Fuel is wasmtime's deterministic instruction count (roughly one unit per
/// WebAssembly instruction). A run starts with
/// `fuel_base + fuel_per_byte * contract bytes` and each
/// [`Run::feed`](crate::Run::feed) adds
/// `fuel_per_event * events + fuel_per_byte * chunk bytes`; fuel left over
/// carries forward, and `cfr_finish` runs on what is left. The budget thus
/// depends only on the input, so an analyzer that runs out of fuel does so at
/// the same point on every machine.
///
/// Memory and the verdict's size scale with the input the same way: the
/// memory limit is `memory_bytes + memory_per_event * events fed so far`
/// (at most 4 GiB, all a 32-bit memory can address), and the verdict may
/// be `max_output_bytes + output_per_event * events` long. So no honest log
/// fails for its size alone, while a hostile analyzer is still stopped at a
/// point that depends only on the input.
///
/// ```
/// let limits = cfr_replay::Limits { fuel_per_event: 10_000, ..Default::default() };
/// assert_eq!(limits.memory_bytes, 128 << 20);
/// assert_eq!(limits.memory_limit(1_000_000), (128 << 20) + 4096 * 1_000_000);
/// assert_eq!(limits.memory_limit(u64::MAX), 4 << 30);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory allowed before any event is fed, in bytes (default
    /// 128 MiB).
    pub memory_bytes: u64,
    /// Further linear memory allowed per event fed (default 4096 bytes).
    pub memory_per_event: u64,
    /// Fuel granted at the start of a run (default 1,000,000,000, roughly a
    /// second of work: instantiation and compiling the contract).
    pub fuel_base: u64,
    /// Fuel granted per event fed (default 100,000).
    pub fuel_per_event: u64,
    /// Fuel granted per input byte, contract and chunks (default 1,000).
    pub fuel_per_byte: u64,
    /// Largest verdict accepted from `cfr_finish` for an empty log, in
    /// bytes (default 64 MiB).
    pub max_output_bytes: u64,
    /// Further verdict bytes accepted per event fed (default 4096).
    pub output_per_event: u64,
}

/// All a 32-bit linear memory can address.
const MAX_MEMORY_BYTES: u64 = 4 << 30;

impl Limits {
    /// The memory limit once `events` events have been fed.
    pub fn memory_limit(&self, events: u64) -> u64 {
        self.memory_bytes
            .saturating_add(self.memory_per_event.saturating_mul(events))
            .min(MAX_MEMORY_BYTES)
    }

    /// The largest verdict accepted after `events` events.
    pub fn output_limit(&self, events: u64) -> u64 {
        self.max_output_bytes
            .saturating_add(self.output_per_event.saturating_mul(events))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 << 20,
            memory_per_event: 4096,
            fuel_base: 1_000_000_000,
            fuel_per_event: 100_000,
            fuel_per_byte: 1_000,
            max_output_bytes: 64 << 20,
            output_per_event: 4096,
        }
    }
}

/// Largest number of table elements (function references) an analyzer may
/// have.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// The store's resource limiter: refuses growth past the limits and
/// remembers the last refused memory size, so that the failure it causes
/// can be reported as running out of memory rather than as a bare trap.
pub(crate) struct Limiter {
    pub(crate) memory_bytes: u64,
    pub(crate) refused_memory: Option<u64>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = u64::try_from(desired).unwrap_or(u64::MAX);
        if desired > self.memory_bytes {
            self.refused_memory = Some(desired);
            Ok(false)
        } else {
            Ok(true)
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}
