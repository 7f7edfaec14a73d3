//! Numbers and ranges in the words people read (text and HTML output;
//! JSON keeps numbers as numbers).

/// `n` with the noun in agreement: `1 chunk`, `2 chunks`, `0 chunks`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `1,512`: a count with thousands separated by commas.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// [`count`] with [`thousands`]: `1 event`, `1,512 events`.
pub fn count_thousands(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// An inclusive seq range: `seq 7` for one, `seqs 344-345` for more.
pub fn seqs(first: u64, last: u64) -> String {
    if first == last {
        format!("seq {first}")
    } else {
        format!("seqs {first}-{last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_and_ranges() {
        assert_eq!(count(1, "chunk", "chunks"), "1 chunk");
        assert_eq!(count(0, "chunk", "chunks"), "0 chunks");
        assert_eq!(count(3000, "event", "events"), "3000 events");
        assert_eq!(seqs(344, 345), "seqs 344-345");
        assert_eq!(seqs(7, 7), "seq 7");
    }
}
