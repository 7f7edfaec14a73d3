//! The `cfr-analyzer/1` exports (see `crates/cfr-replay/ABI.md`).
//!
//! All state lives in one [`Host`] value; a call runs to completion before
//! the next starts (the module has no threads), so a `RefCell` suffices.
//! Inputs are never read through raw pointers: the host may only pass back
//! the buffer `cfr_alloc` handed out, which this module still owns as a
//! `Vec`, so the only `unsafe` here is the `#[no_mangle]` on each export.

use crate::replay::Replay;
use std::cell::RefCell;

/// Status of a successful call.
const OK: i32 = 0;
/// Status of a failed call; the output then holds the error text.
const ERROR: i32 = 1;

/// The analyzer's state between calls.
#[derive(Default)]
struct Host {
    /// The buffer the last `cfr_alloc` returned.
    input: Vec<u8>,
    /// The verdict or error text.
    output: Vec<u8>,
    /// The replay between `cfr_begin` and `cfr_finish`.
    replay: Option<Replay>,
    /// True once `cfr_begin` was called.
    begun: bool,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

/// An error for the host: status 1, with `text` as the output.
fn fail(host: &mut Host, text: String) -> i32 {
    host.output = text.into_bytes();
    ERROR
}

/// The input the host placed with `cfr_alloc`, or an error text.
fn input(host: &Host, ptr: i32, len: i32) -> Result<&[u8], String> {
    let len = usize::try_from(len).map_err(|_| format!("negative input length {len}"))?;
    if len == 0 {
        return Ok(&[]);
    }
    if ptr as u32 as usize != host.input.as_ptr() as usize || len > host.input.len() {
        return Err(format!(
            "input at {ptr} ({len} bytes) is not the buffer cfr_alloc returned"
        ));
    }
    Ok(&host.input[..len])
}

/// Returns 1: this analyzer speaks `cfr-analyzer/1`.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_abi_version() -> i32 {
    1
}

/// A buffer of `len` writable bytes for the next `cfr_begin` or `cfr_feed`,
/// or 0 if it cannot be allocated. Replaces the previous buffer.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_alloc(len: i32) -> i32 {
    let Ok(len) = usize::try_from(len) else {
        return 0;
    };
    HOST.with_borrow_mut(|host| {
        host.input.clear();
        if host.input.try_reserve_exact(len.max(1)).is_err() {
            return 0;
        }
        host.input.resize(len, 0);
        // wasm32 addresses are 32 bits, so this is the whole pointer.
        host.input.as_ptr() as usize as i32
    })
}

/// Starts the replay of the compiled contract at `ptr`.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_begin(ptr: i32, len: i32) -> i32 {
    HOST.with_borrow_mut(|host| {
        if host.begun {
            return fail(host, "cfr_begin called twice".into());
        }
        host.begun = true;
        let started =
            input(host, ptr, len).and_then(|c| Replay::begin(c).map_err(|e| e.to_string()));
        match started {
            Ok(replay) => {
                host.replay = Some(replay);
                OK
            }
            Err(e) => fail(host, e),
        }
    })
}

/// Replays a chunk of whole events at `ptr`.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_feed(ptr: i32, len: i32) -> i32 {
    HOST.with_borrow_mut(|host| {
        let Some(mut replay) = host.replay.take() else {
            return fail(host, "cfr_feed without a successful cfr_begin".into());
        };
        let fed = input(host, ptr, len).and_then(|c| replay.feed(c).map_err(|e| e.to_string()));
        match fed {
            Ok(()) => {
                host.replay = Some(replay);
                OK
            }
            // The replay is dropped: a failed run cannot continue.
            Err(e) => fail(host, e),
        }
    })
}

/// Ends the replay; the output is then the verdict.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_finish() -> i32 {
    HOST.with_borrow_mut(|host| {
        host.input = Vec::new();
        let Some(replay) = host.replay.take() else {
            return fail(host, "cfr_finish without a successful cfr_begin".into());
        };
        match replay.finish() {
            Ok(verdict) => {
                host.output = verdict;
                OK
            }
            Err(e) => fail(host, e.to_string()),
        }
    })
}

/// Address of the output: the verdict or the last error text.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_output_ptr() -> i32 {
    HOST.with_borrow(|host| host.output.as_ptr() as usize as i32)
}

/// Length of the output in bytes.
#[allow(unsafe_code)] // `no_mangle`: the symbol is the ABI's export name.
#[no_mangle]
pub extern "C" fn cfr_output_len() -> i32 {
    // The output lives in a 32-bit memory, so its length fits.
    HOST.with_borrow(|host| host.output.len() as i32)
}

/// cfr-model's key generation links `getrandom`; an analyzer has no source
/// of randomness and never needs one, so every request fails.
fn no_randomness(_: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}

getrandom::register_custom_getrandom!(no_randomness);
