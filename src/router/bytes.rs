//! Byte comparisons for the lookup path, inlined: host names and path prefixes are short, and a
//! `memcmp` call costs more than the compare itself.

/// `a == b`, eight bytes at a time.
#[inline]
pub(crate) fn eq(a: &[u8], b: &[u8]) -> bool {
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    a.len() == b.len()
        && a8
            .iter()
            .zip(b8)
            .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && a_rest.iter().zip(b_rest).all(|(x, y)| x == y)
}

/// `hay.starts_with(prefix)`, inlined.
#[inline]
pub(crate) fn starts_with(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len()).is_some_and(|head| eq(head, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_std() {
        let words: [&[u8]; 7] = [
            b"",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgX",
            b"abcdefghij",
        ];
        for a in words {
            for b in words {
                assert_eq!(eq(a, b), a == b, "{a:?} {b:?}");
                assert_eq!(starts_with(a, b), a.starts_with(b), "{a:?} {b:?}");
            }
        }
    }
}
