//! Tests of the analyzer sandbox: one binary, so wasmtime is linked once.

mod guest;
mod happy;
mod hostile;

/// The well-behaved analyzer of these tests, in WAT, with one or more of its
/// definitions replaced.
///
/// It keeps the input buffer at 64 KiB (one page, so inputs up to 64 KiB),
/// reads every input byte, and its verdict is the canonical CBOR array
/// `[contract bytes, chunks, chunk bytes, sum of chunk bytes mod 2^32]`, each
/// as a 4-byte unsigned integer (head `0x1a`).
pub fn analyzer(replace: &[(&str, &str)]) -> Vec<u8> {
    let mut parts: Vec<(&str, String)> = vec![
        ("memory", r#"(memory (export "memory") 2)"#.into()),
        (
            "globals",
            r#"(global $contract (mut i32) (i32.const 0))
               (global $chunks (mut i32) (i32.const 0))
               (global $bytes (mut i32) (i32.const 0))
               (global $sum (mut i32) (i32.const 0))
               (global $out_len (mut i32) (i32.const 0))"#
                .into(),
        ),
        (
            "cfr_abi_version",
            r#"(func (export "cfr_abi_version") (result i32) (i32.const 1))"#.into(),
        ),
        (
            "cfr_alloc",
            r#"(func (export "cfr_alloc") (param $len i32) (result i32)
                 (if (i32.gt_u (local.get $len) (i32.const 65536)) (then (return (i32.const 0))))
                 (i32.const 65536))"#
                .into(),
        ),
        (
            "cfr_begin",
            r#"(func (export "cfr_begin") (param $ptr i32) (param $len i32) (result i32)
                 (global.set $contract (local.get $len))
                 (i32.const 0))"#
                .into(),
        ),
        (
            "cfr_feed",
            r#"(func (export "cfr_feed") (param $ptr i32) (param $len i32) (result i32)
                 (local $i i32)
                 (global.set $chunks (i32.add (global.get $chunks) (i32.const 1)))
                 (global.set $bytes (i32.add (global.get $bytes) (local.get $len)))
                 (block $done
                   (loop $next
                     (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
                     (global.set $sum (i32.add (global.get $sum)
                       (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))))
                     (local.set $i (i32.add (local.get $i) (i32.const 1)))
                     (br $next)))
                 (i32.const 0))"#
                .into(),
        ),
        (
            "cfr_finish",
            r#"(func $put (param $at i32) (param $v i32)
                 (i32.store8 (local.get $at) (i32.const 0x1a))
                 (i32.store8 (i32.add (local.get $at) (i32.const 1)) (i32.shr_u (local.get $v) (i32.const 24)))
                 (i32.store8 (i32.add (local.get $at) (i32.const 2)) (i32.shr_u (local.get $v) (i32.const 16)))
                 (i32.store8 (i32.add (local.get $at) (i32.const 3)) (i32.shr_u (local.get $v) (i32.const 8)))
                 (i32.store8 (i32.add (local.get $at) (i32.const 4)) (local.get $v)))
               (func (export "cfr_finish") (result i32)
                 (i32.store8 (i32.const 0) (i32.const 0x84))
                 (call $put (i32.const 1) (global.get $contract))
                 (call $put (i32.const 6) (global.get $chunks))
                 (call $put (i32.const 11) (global.get $bytes))
                 (call $put (i32.const 16) (global.get $sum))
                 (global.set $out_len (i32.const 21))
                 (i32.const 0))"#
                .into(),
        ),
        (
            "cfr_output_ptr",
            r#"(func (export "cfr_output_ptr") (result i32) (i32.const 0))"#.into(),
        ),
        (
            "cfr_output_len",
            r#"(func (export "cfr_output_len") (result i32) (global.get $out_len))"#.into(),
        ),
    ];
    for (name, text) in replace {
        match parts.iter_mut().find(|(n, _)| n == name) {
            Some(part) => part.1 = (*text).to_string(),
            // New parts go first: WAT wants imports before definitions.
            None => parts.insert(0, (name, (*text).to_string())),
        }
    }
    let body: Vec<&str> = parts.iter().map(|(_, t)| t.as_str()).collect();
    let text = format!("(module\n{}\n)", body.join("\n"));
    match wat::parse_str(&text) {
        Ok(wasm) => wasm,
        Err(e) => panic!("test WAT does not parse: {e}\n{text}"),
    }
}

/// The verdict `analyzer(&[])` produces.
pub fn expected_verdict(contract: &[u8], chunks: &[&[u8]]) -> Vec<u8> {
    let bytes: usize = chunks.iter().map(|c| c.len()).sum();
    let sum = chunks
        .iter()
        .flat_map(|c| c.iter())
        .fold(0u32, |s, &b| s.wrapping_add(b.into()));
    let mut out = vec![0x84];
    for v in [
        contract.len() as u32,
        chunks.len() as u32,
        bytes as u32,
        sum,
    ] {
        out.push(0x1a);
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}
