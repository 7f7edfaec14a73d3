//! The guest's `memcmp`, eight bytes at a time.
//!
//! On `wasm32-unknown-unknown` the `memcmp` that `compiler_builtins`
//! provides compares one byte per loop iteration. The replay calls it for
//! every comparison of byte strings: the keys of the deadline rules' open
//! requests (`BTreeMap<Value, _>`), attribute names, the text values a
//! predicate tests. [`compare`] reads both sides a `u64` word at a time
//! and looks at bytes only in the word where they first differ; its result
//! is the builtin's, byte for byte, so verdicts do not change. The
//! `#[no_mangle]` function replaces the builtin (whose symbol is weak) when
//! the module is linked; like every such function of a `cdylib` it is also
//! exported, which hosts ignore (they call only the ABI's exports).
//!
//! [`compare`] is plain Rust, tested natively against the byte-wise
//! definition and `<[u8]>::cmp`; it uses no slice comparison itself, which
//! would call `memcmp` again.

/// `a` and `b` (of equal length) compared as `memcmp` does: the first
/// differing byte of `a` minus that of `b`, or 0.
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) fn compare(a: &[u8], b: &[u8]) -> i32 {
    let n = a.len().min(b.len());
    let (mut wa, mut wb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    for (x, y) in (&mut wa).zip(&mut wb) {
        // Little-endian, wasm's own order: one 64-bit load each, and the
        // lowest set bit of x ^ y lies in the first byte that differs.
        let x = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        let y = u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
        if x != y {
            let shift = (x ^ y).trailing_zeros() & !7;
            return i32::from((x >> shift) as u8) - i32::from((y >> shift) as u8);
        }
    }
    for (x, y) in wa.remainder().iter().zip(wb.remainder()) {
        if x != y {
            return i32::from(*x) - i32::from(*y);
        }
    }
    0
}

/// The C library's `memcmp` for the linked module.
///
/// # Safety
///
/// As C's: `a` and `b` point to `n` readable bytes each (they may be
/// dangling when `n` is 0).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // a C ABI over raw pointers, as the compiler's calls require
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    // SAFETY: the caller guarantees n readable bytes at each pointer, and
    // nothing writes them during the call (the module has one thread).
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(a, n),
            std::slice::from_raw_parts(b, n),
        )
    };
    compare(a, b)
}

#[cfg(test)]
mod tests {
    use super::compare;

    #[test]
    fn agrees_with_slice_order_at_every_length_and_position() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(compare(&a, &a), 0, "equal, length {n}");
            for at in 0..n {
                for delta in [1u8, 0x7f, 0x80, 0xff] {
                    let mut b = a.clone();
                    b[at] = b[at].wrapping_add(delta);
                    let want = i32::from(a[at]) - i32::from(b[at]);
                    assert_eq!(compare(&a, &b), want, "length {n}, byte {at}, +{delta}");
                    assert_eq!(compare(&b, &a), -want, "length {n}, byte {at}, +{delta}");
                }
            }
        }
    }

    #[test]
    fn sign_is_the_slices_order_on_random_pairs() {
        // xorshift64: a fixed sequence, so a failure reproduces. Few byte
        // values, so that pairs often share long prefixes and differ in
        // several bytes of a word.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..20_000 {
            let n = (next() % 70) as usize;
            let a: Vec<u8> = (0..n).map(|_| (next() % 3) as u8 * 0x7f).collect();
            let b: Vec<u8> = (0..n).map(|_| (next() % 3) as u8 * 0x7f).collect();
            let first = a.iter().zip(&b).find(|(x, y)| x != y);
            let want = first.map_or(0, |(x, y)| i32::from(*x) - i32::from(*y));
            assert_eq!(compare(&a, &b), want, "{a:?} vs {b:?}");
            assert_eq!(compare(&a, &b).signum(), a.cmp(&b) as i32, "{a:?} vs {b:?}");
        }
    }
}
