/// Normalizes a host name for matching: ASCII-lowercased, without a port and without one trailing
/// dot. Returns `None` for names that are empty or contain bytes no host name has.
pub fn normalize_host(raw: &str) -> Option<String> {
    if raw == super::CATCH_ALL_HOST {
        return Some(raw.to_string());
    }
    let name = strip_port(raw);
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']')
        });
    valid.then(|| name.to_ascii_lowercase())
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`; a bare IPv6 literal is left alone.
fn strip_port(raw: &str) -> &str {
    if raw.starts_with('[') {
        return match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        };
    }
    match raw.rfind(':') {
        Some(i) if raw[..i].find(':').is_none() => &raw[..i],
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize_host("Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_host("example.com.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_host("example.com:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_host("example.com.:80").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalize_host("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(normalize_host("*").as_deref(), Some("*"));
        assert_eq!(normalize_host(""), None);
        assert_eq!(normalize_host("bad host"), None);
        assert_eq!(normalize_host("a/b"), None);
    }
}
