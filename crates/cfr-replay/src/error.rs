//! Why compiling or running an analyzer failed.

use std::fmt;

/// The point of a run at which an analyzer failed.
///
/// Together with the fuel budget this pins a failure down exactly: the same
/// analyzer over the same contract and chunks fails at the same stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Instantiating the module (data segments, start function).
    Instantiate,
    /// Calling `cfr_abi_version`.
    AbiVersion,
    /// Passing the compiled contract to `cfr_begin`.
    Begin,
    /// Passing the chunk with this 0-based index to `cfr_feed`.
    Feed {
        /// Index of the chunk among those fed to this run.
        chunk: u64,
    },
    /// Calling `cfr_finish` and reading the verdict.
    Finish,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Instantiate => f.write_str("instantiate"),
            Stage::AbiVersion => f.write_str("cfr_abi_version"),
            Stage::Begin => f.write_str("cfr_begin"),
            Stage::Feed { chunk } => write!(f, "cfr_feed (chunk {chunk})"),
            Stage::Finish => f.write_str("cfr_finish"),
        }
    }
}

/// Why an analyzer could not be compiled or run.
///
/// Every variant has a stable [`code`](ReplayError::code) that tools report;
/// wasmtime's own error type never appears here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The wasmtime engine could not be set up on this host.
    #[error("cannot set up the WebAssembly engine: {message}")]
    Engine {
        /// What wasmtime reported.
        message: String,
    },
    /// The bytes are not a valid WebAssembly module (or use a disabled
    /// feature such as threads, memory64 or multiple memories).
    #[error("analyzer is not a valid WebAssembly module: {message}")]
    InvalidModule {
        /// What the validator reported.
        message: String,
    },
    /// The module imports something; an analyzer must be self-contained.
    #[error("analyzer imports {}: an analyzer may not import anything", imports.join(", "))]
    HasImports {
        /// Every import, as `module::name (kind)`.
        imports: Vec<String>,
    },
    /// A required export is missing.
    #[error("analyzer does not export `{name}`")]
    MissingExport {
        /// The missing export.
        name: &'static str,
    },
    /// A required export has the wrong kind or signature.
    #[error("analyzer export `{name}` is {found}, expected {expected}")]
    WrongExportType {
        /// The export.
        name: &'static str,
        /// What the ABI requires.
        expected: String,
        /// What the module declares.
        found: String,
    },
    /// `cfr_abi_version` returned something other than
    /// [`ABI_VERSION`](crate::ABI_VERSION).
    #[error(
        "analyzer speaks ABI version {found}, this host speaks version {}",
        crate::ABI_VERSION
    )]
    AbiVersion {
        /// The version the analyzer reported.
        found: i32,
    },
    /// The analyzer used up its fuel budget.
    #[error("analyzer ran out of fuel in {stage}")]
    OutOfFuel {
        /// Where the fuel ran out.
        stage: Stage,
    },
    /// The analyzer needed more linear memory than the limit allows.
    #[error(
        "analyzer ran out of memory in {stage}: limit is {limit} bytes, it asked for {requested}"
    )]
    OutOfMemory {
        /// Where the growth was refused.
        stage: Stage,
        /// [`Limits::memory_bytes`](crate::Limits::memory_bytes).
        limit: u64,
        /// The memory size the analyzer asked for, in bytes.
        requested: u64,
    },
    /// The analyzer trapped (`unreachable`, out-of-bounds access, division
    /// by zero, stack overflow, ...).
    #[error("analyzer trapped in {stage}: {message}")]
    Trap {
        /// Where it trapped.
        stage: Stage,
        /// The trap description.
        message: String,
    },
    /// `cfr_alloc` returned 0.
    #[error("analyzer could not allocate {len} bytes for {stage}")]
    AllocFailed {
        /// The call whose input could not be placed.
        stage: Stage,
        /// The requested length.
        len: u64,
    },
    /// `cfr_alloc` returned a buffer that does not lie inside linear memory.
    #[error(
        "analyzer allocated {len} bytes at {ptr} for {stage}, outside its {memory}-byte memory"
    )]
    InputOutOfBounds {
        /// The call whose input could not be placed.
        stage: Stage,
        /// The pointer `cfr_alloc` returned.
        ptr: u32,
        /// The requested length.
        len: u64,
        /// The size of linear memory at that moment.
        memory: u64,
    },
    /// An input (contract or chunk) does not fit the 32-bit ABI.
    #[error("input for {stage} is {len} bytes, more than the ABI's {max}")]
    InputTooLarge {
        /// The call the input was for.
        stage: Stage,
        /// The input's length.
        len: u64,
        /// The largest length the ABI can pass.
        max: u64,
    },
    /// The output (`cfr_output_ptr`, `cfr_output_len`) does not lie inside
    /// linear memory.
    #[error("analyzer output of {len} bytes at {ptr} after {stage} lies outside its {memory}-byte memory")]
    OutputOutOfBounds {
        /// The call after which the output was read.
        stage: Stage,
        /// `cfr_output_ptr`.
        ptr: u32,
        /// `cfr_output_len`.
        len: u32,
        /// The size of linear memory at that moment.
        memory: u64,
    },
    /// The verdict is longer than [`Limits::max_output_bytes`](crate::Limits::max_output_bytes).
    #[error("analyzer output is {len} bytes, more than the limit of {max}")]
    OutputTooLarge {
        /// `cfr_output_len`.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A call returned a status other than 0 (ok) or 1 (error).
    #[error("analyzer returned unknown status {status} from {stage}")]
    BadStatus {
        /// The call.
        stage: Stage,
        /// What it returned.
        status: i32,
    },
    /// The analyzer reported an error (status 1) with this text.
    #[error("analyzer reported an error in {stage}: {message}")]
    AnalyzerError {
        /// The call that failed.
        stage: Stage,
        /// The analyzer's error text: decoded lossily as UTF-8, control
        /// characters escaped, truncated to
        /// [`MAX_ERROR_TEXT_CHARS`](crate::MAX_ERROR_TEXT_CHARS).
        message: String,
    },
    /// A previous call of this run failed; the run cannot continue.
    #[error("the analyzer run already failed")]
    RunAborted,
}

impl ReplayError {
    /// A stable kebab-case code for this error, for reports and `--json`.
    ///
    /// ```
    /// let err = cfr_replay::ReplayError::OutOfFuel { stage: cfr_replay::Stage::Finish };
    /// assert_eq!(err.code(), "analyzer-out-of-fuel");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            ReplayError::Engine { .. } => "analyzer-engine-unavailable",
            ReplayError::InvalidModule { .. } => "analyzer-invalid-module",
            ReplayError::HasImports { .. } => "analyzer-has-imports",
            ReplayError::MissingExport { .. } => "analyzer-missing-export",
            ReplayError::WrongExportType { .. } => "analyzer-wrong-export-type",
            ReplayError::AbiVersion { .. } => "analyzer-abi-version",
            ReplayError::OutOfFuel { .. } => "analyzer-out-of-fuel",
            ReplayError::OutOfMemory { .. } => "analyzer-out-of-memory",
            ReplayError::Trap { .. } => "analyzer-trap",
            ReplayError::AllocFailed { .. } => "analyzer-alloc-failed",
            ReplayError::InputOutOfBounds { .. } => "analyzer-input-out-of-bounds",
            ReplayError::InputTooLarge { .. } => "analyzer-input-too-large",
            ReplayError::OutputOutOfBounds { .. } => "analyzer-output-out-of-bounds",
            ReplayError::OutputTooLarge { .. } => "analyzer-output-too-large",
            ReplayError::BadStatus { .. } => "analyzer-bad-status",
            ReplayError::AnalyzerError { .. } => "analyzer-error",
            ReplayError::RunAborted => "analyzer-run-aborted",
        }
    }

    /// The stage a run failed at, for errors raised while running.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            ReplayError::OutOfFuel { stage }
            | ReplayError::OutOfMemory { stage, .. }
            | ReplayError::Trap { stage, .. }
            | ReplayError::AllocFailed { stage, .. }
            | ReplayError::InputOutOfBounds { stage, .. }
            | ReplayError::InputTooLarge { stage, .. }
            | ReplayError::OutputOutOfBounds { stage, .. }
            | ReplayError::BadStatus { stage, .. }
            | ReplayError::AnalyzerError { stage, .. } => Some(*stage),
            ReplayError::OutputTooLarge { .. } => Some(Stage::Finish),
            _ => None,
        }
    }
}
