use std::net::SocketAddr;

/// Parses an endpoint URL of the form `http://ip:port` (an optional trailing `/` is allowed).
/// Only IP literals: registration agents write addresses, and resolving names on the data path
/// would put DNS latency and failure modes there.
pub fn parse_endpoint_url(value: &str) -> Result<SocketAddr, String> {
    let v = value.trim();
    let rest = v
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{v}` is not an endpoint URL (expected http://ip:port)"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.parse::<SocketAddr>().map_err(|_| {
        format!("`{v}` is not an endpoint URL (expected http://ip:port with an IP address)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_endpoint_url("http://127.0.0.1:8086").unwrap(),
            "127.0.0.1:8086".parse().unwrap()
        );
        assert_eq!(
            parse_endpoint_url("http://[::1]:80/").unwrap(),
            "[::1]:80".parse().unwrap()
        );
        assert!(parse_endpoint_url("https://127.0.0.1:1").is_err());
        assert!(parse_endpoint_url("http://example.com:80").is_err());
        assert!(parse_endpoint_url("http://127.0.0.1").is_err());
    }
}
