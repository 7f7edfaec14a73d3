//! Runs cfr WASM analyzers in a wasmtime sandbox.
//!
//! ```
//! use cfr_replay::{Analyzer, Limits};
//!
//! // The smallest analyzer: accepts everything, and its verdict is the CBOR
//! // value `true` (0xf5). Real analyzers are built from `crates/cfr-analyzer`.
//! let wasm = wat::parse_str(r#"
//!   (module
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "\f5")
//!     (func (export "cfr_abi_version") (result i32) (i32.const 1))
//!     (func (export "cfr_alloc") (param i32) (result i32)
//!       (select (i32.const 1024) (i32.const 0) (i32.le_u (local.get 0) (i32.const 64512))))
//!     (func (export "cfr_begin") (param i32 i32) (result i32) (i32.const 0))
//!     (func (export "cfr_feed") (param i32 i32) (result i32) (i32.const 0))
//!     (func (export "cfr_finish") (result i32) (i32.const 0))
//!     (func (export "cfr_output_ptr") (result i32) (i32.const 16))
//!     (func (export "cfr_output_len") (result i32) (i32.const 1)))
//! "#)?;
//!
//! let analyzer = Analyzer::compile(&wasm)?;
//! println!("analyzer sha256 {:02x?}", analyzer.digest());
//!
//! let contract_cbor = [0xa0]; // the compiled contract (here an empty map)
//! let mut run = analyzer.start(&contract_cbor, &Limits::default())?;
//! run.feed(&[0xf6, 0xf6], 2)?; // a chunk of two (fake) events
//! let verdict = run.finish()?;
//! assert_eq!(verdict, [0xf5]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concepts
//!
//! - An **analyzer** is a WebAssembly module that speaks the `cfr-analyzer/1`
//!   ABI (see `ABI.md` next to this crate's `Cargo.toml`): it gets the
//!   compiled contract, then the events in chunks, and returns the verdict as
//!   canonical CBOR. It has no imports, so it cannot reach a clock, a file,
//!   the network or randomness: its verdict depends on its input alone.
//! - A [`Sandbox`] is a wasmtime engine configured for that: fuel metering,
//!   NaN canonicalization, deterministic relaxed SIMD, no threads, no WASI,
//!   no host functions. [`Analyzer::compile`] uses one shared sandbox;
//!   make your own only to keep engines apart.
//! - An [`Analyzer`] is a validated, compiled module. Compile once, run
//!   many times: each [`Analyzer::start`] creates a fresh store and instance,
//!   so nothing leaks from one run into the next.
//! - A [`Run`] is one replay, bounded by [`Limits`]: a memory limit and a
//!   fuel budget that grows with the input, so a hostile or buggy analyzer
//!   ends in a named [`ReplayError`] (with a stable [`ReplayError::code`]),
//!   never a hang or a crash, and at the same point on every machine.
#![deny(missing_docs)]

mod error;
mod limits;

pub use error::{ReplayError, Stage};
pub use limits::Limits;

use limits::Limiter;
use sha2::{Digest as _, Sha256};
use std::sync::OnceLock;
use wasmtime::{Config, Engine, ExternType, Instance, Memory, Module, Store, Trap, TypedFunc};

/// The ABI version this host speaks (`cfr-analyzer/1`).
pub const ABI_VERSION: i32 = 1;

/// The error text of a failing analyzer is cut to this many characters.
pub const MAX_ERROR_TEXT_CHARS: usize = 1024;

/// At most this many bytes of an analyzer's error text are read.
const MAX_ERROR_TEXT_BYTES: u32 = 4 * MAX_ERROR_TEXT_CHARS as u32;

/// The exported functions the ABI requires: name, parameter count (all
/// parameters and the result are `i32`).
const REQUIRED_FUNCS: [(&str, usize); 7] = [
    ("cfr_abi_version", 0),
    ("cfr_alloc", 1),
    ("cfr_begin", 2),
    ("cfr_feed", 2),
    ("cfr_finish", 0),
    ("cfr_output_ptr", 0),
    ("cfr_output_len", 0),
];

/// A wasmtime engine configured to run analyzers deterministically.
///
/// Cheap to clone (the engine is reference-counted); compiled analyzers can
/// only run on the sandbox that compiled them.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A new engine with the analyzer configuration.
    pub fn new() -> Result<Sandbox, ReplayError> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .wasm_custom_page_sizes(false)
            .wasm_shared_everything_threads(false)
            .wasm_stack_switching(false)
            .wasm_gc(false);
        // Threads, exceptions, components and WASI are not compiled into this build of wasmtime
        // (see the workspace's `wasmtime` features).
        let engine = Engine::new(&config).map_err(|e| ReplayError::Engine {
            message: e.to_string(),
        })?;
        Ok(Sandbox { engine })
    }

    /// The process-wide sandbox that [`Analyzer::compile`] uses.
    pub fn shared() -> Result<&'static Sandbox, ReplayError> {
        static SHARED: OnceLock<Result<Sandbox, ReplayError>> = OnceLock::new();
        SHARED
            .get_or_init(Sandbox::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Validates and compiles an analyzer module (its functions on every
    /// core: wasmtime's `parallel-compilation`).
    ///
    /// Fails if the bytes are not a valid module, if the module imports
    /// anything (all imports are listed in the error), or if an export the
    /// ABI requires is missing or has the wrong type. The ABI version is
    /// checked when a run starts.
    pub fn compile(&self, wasm: &[u8]) -> Result<Analyzer, ReplayError> {
        let module =
            Module::from_binary(&self.engine, wasm).map_err(|e| ReplayError::InvalidModule {
                message: format!("{e:#}"),
            })?;
        let imports: Vec<String> = module
            .imports()
            .map(|i| format!("{}::{} ({})", i.module(), i.name(), kind(&i.ty())))
            .collect();
        if !imports.is_empty() {
            return Err(ReplayError::HasImports { imports });
        }
        check_memory_export(&module)?;
        for (name, params) in REQUIRED_FUNCS {
            check_func_export(&module, name, params)?;
        }
        Ok(Analyzer {
            module,
            digest: Sha256::digest(wasm).into(),
        })
    }
}

fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "func",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Tag(_) => "tag",
    }
}

fn check_memory_export(module: &Module) -> Result<(), ReplayError> {
    let name = "memory";
    let expected = "a 32-bit unshared memory";
    match module.get_export(name) {
        None => Err(ReplayError::MissingExport { name }),
        Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared() && m.page_size() == 65536 => {
            Ok(())
        }
        Some(ExternType::Memory(m)) => Err(ReplayError::WrongExportType {
            name,
            expected: expected.into(),
            found: format!("{m:?}"),
        }),
        Some(other) => Err(ReplayError::WrongExportType {
            name,
            expected: expected.into(),
            found: format!("a {}", kind(&other)),
        }),
    }
}

fn check_func_export(
    module: &Module,
    name: &'static str,
    params: usize,
) -> Result<(), ReplayError> {
    let expected = match params {
        0 => "(func (result i32))",
        1 => "(func (param i32) (result i32))",
        _ => "(func (param i32 i32) (result i32))",
    }
    .to_string();
    match module.get_export(name) {
        None => Err(ReplayError::MissingExport { name }),
        Some(ExternType::Func(f)) => {
            if f.params().len() == params
                && f.params().all(|t| t.is_i32())
                && f.results().len() == 1
                && f.results().all(|t| t.is_i32())
            {
                Ok(())
            } else {
                Err(ReplayError::WrongExportType {
                    name,
                    expected,
                    found: f.to_string(),
                })
            }
        }
        Some(other) => Err(ReplayError::WrongExportType {
            name,
            expected,
            found: format!("a {}", kind(&other)),
        }),
    }
}

/// A validated, compiled analyzer.
#[derive(Clone)]
pub struct Analyzer {
    module: Module,
    digest: [u8; 32],
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// Validates and compiles an analyzer in the [shared](Sandbox::shared)
    /// sandbox; see [`Sandbox::compile`].
    pub fn compile(wasm: &[u8]) -> Result<Analyzer, ReplayError> {
        Sandbox::shared()?.compile(wasm)
    }

    /// SHA-256 of the module's bytes: the analyzer digest of a bundle's
    /// manifest and of a regulator's certificate.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Starts a run: a fresh instance, its ABI version checked, and the
    /// compiled contract (canonical CBOR) passed to `cfr_begin`.
    pub fn start(&self, contract: &[u8], limits: &Limits) -> Result<Run, ReplayError> {
        let mut store = Store::new(
            self.module.engine(),
            Limiter {
                memory_bytes: limits.memory_bytes,
                refused_memory: None,
            },
        );
        store.limiter(|limiter| limiter);
        let mut run = Run {
            store,
            funcs: None,
            limits: limits.clone(),
            fuel_granted: 0,
            chunks: 0,
            events: 0,
            failed: false,
        };
        run.grant(
            limits
                .fuel_base
                .saturating_add(limits.fuel_per_byte.saturating_mul(len_u64(contract))),
        )?;
        run.guard(|run| {
            run.instantiate(&self.module)?;
            let version = run.call0(Stage::AbiVersion, |f| &f.abi_version)?;
            if version != ABI_VERSION {
                return Err(ReplayError::AbiVersion { found: version });
            }
            run.call_with_input(Stage::Begin, contract)
        })?;
        Ok(run)
    }

    /// Runs the analyzer over a contract and a sequence of
    /// `(chunk, events in chunk)` and returns the verdict bytes.
    pub fn replay<'a>(
        &self,
        contract: &[u8],
        chunks: impl IntoIterator<Item = (&'a [u8], u64)>,
        limits: &Limits,
    ) -> Result<Vec<u8>, ReplayError> {
        let mut run = self.start(contract, limits)?;
        for (chunk, events) in chunks {
            run.feed(chunk, events)?;
        }
        run.finish()
    }
}

/// The analyzer's exports, bound to one instance.
struct Exports {
    memory: Memory,
    abi_version: TypedFunc<(), i32>,
    alloc: TypedFunc<i32, i32>,
    begin: TypedFunc<(i32, i32), i32>,
    feed: TypedFunc<(i32, i32), i32>,
    finish: TypedFunc<(), i32>,
    output_ptr: TypedFunc<(), i32>,
    output_len: TypedFunc<(), i32>,
}

/// One replay of an analyzer, started by [`Analyzer::start`].
///
/// Once a call has failed, every later call returns
/// [`ReplayError::RunAborted`].
pub struct Run {
    store: Store<Limiter>,
    funcs: Option<Exports>,
    limits: Limits,
    fuel_granted: u64,
    chunks: u64,
    /// Events fed so far (the memory and output limits grow with them).
    events: u64,
    failed: bool,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("chunks", &self.chunks)
            .field("fuel_granted", &self.fuel_granted)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

fn len_u64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

impl Run {
    /// Passes one chunk of whole events (an RFC 8742 CBOR sequence) to
    /// `cfr_feed`, after adding `fuel_per_event * events + fuel_per_byte *
    /// chunk bytes` to the budget.
    pub fn feed(&mut self, chunk: &[u8], events: u64) -> Result<(), ReplayError> {
        let stage = Stage::Feed { chunk: self.chunks };
        self.chunks += 1;
        let fuel = self
            .limits
            .fuel_per_event
            .saturating_mul(events)
            .saturating_add(self.limits.fuel_per_byte.saturating_mul(len_u64(chunk)));
        self.events = self.events.saturating_add(events);
        let memory = self.limits.memory_limit(self.events);
        self.store.data_mut().memory_bytes = memory;
        self.guard(|run| {
            run.grant(fuel)?;
            run.call_with_input(stage, chunk)
        })
    }

    /// Calls `cfr_finish` and returns the verdict bytes (canonical CBOR, to
    /// be decoded by the caller).
    pub fn finish(mut self) -> Result<Vec<u8>, ReplayError> {
        self.guard(|run| {
            let status = run.call0(Stage::Finish, |f| &f.finish)?;
            run.check_status(Stage::Finish, status)?;
            let max = u32::try_from(run.limits.output_limit(run.events)).unwrap_or(u32::MAX);
            run.output(Stage::Finish, max, true)
        })
    }

    /// Fuel used so far: identical in every run of the same analyzer over
    /// the same input.
    pub fn fuel_consumed(&self) -> u64 {
        self.fuel_granted.saturating_sub(self.fuel_remaining())
    }

    /// Fuel still available.
    pub fn fuel_remaining(&self) -> u64 {
        // Fuel is always enabled in a sandbox's engine, so this cannot fail.
        self.store.get_fuel().unwrap_or(0)
    }

    /// Size of the analyzer's linear memory, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        match &self.funcs {
            Some(f) => u64::try_from(f.memory.data_size(&self.store)).unwrap_or(u64::MAX),
            None => 0,
        }
    }

    /// Runs `step` unless the run already failed, and marks it failed if
    /// `step` fails.
    fn guard<T>(
        &mut self,
        step: impl FnOnce(&mut Run) -> Result<T, ReplayError>,
    ) -> Result<T, ReplayError> {
        if self.failed {
            return Err(ReplayError::RunAborted);
        }
        let result = step(self);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn grant(&mut self, fuel: u64) -> Result<(), ReplayError> {
        let remaining = self.fuel_remaining();
        self.store
            .set_fuel(remaining.saturating_add(fuel))
            .map_err(|e| ReplayError::Engine {
                message: e.to_string(),
            })?;
        self.fuel_granted = self.fuel_granted.saturating_add(fuel);
        Ok(())
    }

    fn instantiate(&mut self, module: &Module) -> Result<(), ReplayError> {
        let stage = Stage::Instantiate;
        self.store.data_mut().refused_memory = None;
        let instance =
            Instance::new(&mut self.store, module, &[]).map_err(|e| self.classify(stage, e))?;
        let store = &mut self.store;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or(ReplayError::MissingExport { name: "memory" })?;
        let exports = Exports {
            memory,
            abi_version: typed(&instance, store, "cfr_abi_version")?,
            alloc: typed(&instance, store, "cfr_alloc")?,
            begin: typed(&instance, store, "cfr_begin")?,
            feed: typed(&instance, store, "cfr_feed")?,
            finish: typed(&instance, store, "cfr_finish")?,
            output_ptr: typed(&instance, store, "cfr_output_ptr")?,
            output_len: typed(&instance, store, "cfr_output_len")?,
        };
        self.funcs = Some(exports);
        Ok(())
    }

    fn exports(&self) -> Result<&Exports, ReplayError> {
        // Set by `instantiate` before any call; a run whose instantiation
        // failed is marked failed and never gets here.
        self.funcs.as_ref().ok_or(ReplayError::RunAborted)
    }

    /// Turns a wasmtime error from a call into a named error.
    fn classify(&self, stage: Stage, error: wasmtime::Error) -> ReplayError {
        if error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
            return ReplayError::OutOfFuel { stage };
        }
        if let Some(e) = self.out_of_memory(stage) {
            return e;
        }
        ReplayError::Trap {
            stage,
            message: format!("{error:#}"),
        }
    }

    /// `OutOfMemory` if the limiter refused to grow memory during the
    /// current call.
    fn out_of_memory(&self, stage: Stage) -> Option<ReplayError> {
        self.store
            .data()
            .refused_memory
            .map(|requested| ReplayError::OutOfMemory {
                stage,
                limit: self.store.data().memory_bytes,
                requested,
            })
    }

    fn call0(
        &mut self,
        stage: Stage,
        func: impl Fn(&Exports) -> &TypedFunc<(), i32>,
    ) -> Result<i32, ReplayError> {
        let f = func(self.exports()?).clone();
        self.store.data_mut().refused_memory = None;
        f.call(&mut self.store, ())
            .map_err(|e| self.classify(stage, e))
    }

    /// Copies `input` into a buffer from `cfr_alloc` and calls `cfr_begin`
    /// (stage `Begin`) or `cfr_feed` (stage `Feed`) on it.
    fn call_with_input(&mut self, stage: Stage, input: &[u8]) -> Result<(), ReplayError> {
        let len = i32::try_from(input.len()).map_err(|_| ReplayError::InputTooLarge {
            stage,
            len: len_u64(input),
            max: i32::MAX as u64,
        })?;
        let exports = self.exports()?;
        let memory = exports.memory;
        let alloc = exports.alloc.clone();
        let func = match stage {
            Stage::Begin => exports.begin.clone(),
            _ => exports.feed.clone(),
        };
        self.store.data_mut().refused_memory = None;
        let ptr = if len == 0 {
            0
        } else {
            let ptr = alloc
                .call(&mut self.store, len)
                .map_err(|e| self.classify(stage, e))?;
            if ptr == 0 {
                return Err(self
                    .out_of_memory(stage)
                    .unwrap_or(ReplayError::AllocFailed {
                        stage,
                        len: len_u64(input),
                    }));
            }
            let start = ptr as u32 as usize;
            let data = memory.data_mut(&mut self.store);
            let memory_size = len_u64(data);
            let target = start
                .checked_add(input.len())
                .and_then(|end| data.get_mut(start..end))
                .ok_or(ReplayError::InputOutOfBounds {
                    stage,
                    ptr: ptr as u32,
                    len: len_u64(input),
                    memory: memory_size,
                })?;
            target.copy_from_slice(input);
            ptr
        };
        let status = func
            .call(&mut self.store, (ptr, len))
            .map_err(|e| self.classify(stage, e))?;
        self.check_status(stage, status)
    }

    fn check_status(&mut self, stage: Stage, status: i32) -> Result<(), ReplayError> {
        match status {
            0 => Ok(()),
            1 => {
                if let Some(e) = self.out_of_memory(stage) {
                    return Err(e);
                }
                let text = self.output(stage, MAX_ERROR_TEXT_BYTES, false)?;
                Err(ReplayError::AnalyzerError {
                    stage,
                    message: error_text(&text),
                })
            }
            status => Err(ReplayError::BadStatus { stage, status }),
        }
    }

    /// Reads the output buffer. With `whole`, an output longer than `max`
    /// is an error; otherwise only its first `max` bytes are read.
    fn output(&mut self, stage: Stage, max: u32, whole: bool) -> Result<Vec<u8>, ReplayError> {
        let ptr = self.call0(stage, |f| &f.output_ptr)? as u32;
        let len = self.call0(stage, |f| &f.output_len)? as u32;
        if whole && len > max {
            return Err(ReplayError::OutputTooLarge {
                len: len.into(),
                max: max.into(),
            });
        }
        let data = self.exports()?.memory.data(&self.store);
        let start = ptr as usize;
        let read = len.min(max) as usize;
        // The whole declared range must lie in memory, even if only part
        // of an error text is read.
        let in_bounds = start
            .checked_add(len as usize)
            .is_some_and(|end| end <= data.len());
        match data.get(start..start.saturating_add(read)) {
            Some(bytes) if in_bounds => Ok(bytes.to_vec()),
            _ => Err(ReplayError::OutputOutOfBounds {
                stage,
                ptr,
                len,
                memory: len_u64(data),
            }),
        }
    }
}

fn typed<P, R>(
    instance: &Instance,
    store: &mut Store<Limiter>,
    name: &'static str,
) -> Result<TypedFunc<P, R>, ReplayError>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    instance
        .get_typed_func::<P, R>(store, name)
        .map_err(|e| ReplayError::WrongExportType {
            name,
            expected: "an i32 function".into(),
            found: e.to_string(),
        })
}

/// An analyzer's error text made safe to print: lossy UTF-8, control
/// characters escaped, at most [`MAX_ERROR_TEXT_CHARS`] characters.
fn error_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_ERROR_TEXT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_escaped_and_truncated() {
        assert_eq!(error_text(b"bad\x1b[31m\n"), "bad\\u{1b}[31m\\n");
        assert_eq!(error_text(b"\xff!"), "\u{fffd}!");
        let long = "x".repeat(5000);
        let t = error_text(long.as_bytes());
        assert_eq!(t.chars().count(), MAX_ERROR_TEXT_CHARS + 1);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn codes_are_kebab_case_and_distinct() {
        let errors = [
            ReplayError::RunAborted,
            ReplayError::OutOfFuel {
                stage: Stage::Finish,
            },
            ReplayError::HasImports { imports: vec![] },
        ];
        for e in &errors {
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        }
    }
}
