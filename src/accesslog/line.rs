//! One access log line. The request's own text (request line, Host, User-Agent, Referer) is
//! copied when its head is parsed, because the connection's buffer is reused before the
//! response ends; the rest comes from the request's metrics `Sample`.

use std::ops::Range;

use super::clock::Clock;
use crate::itoa::itoa;
use crate::metrics::Sample;
use crate::model::LogFormat;

/// What a line needs from the request head, copied out of the connection's buffer.
#[derive(Default)]
pub struct RequestInfo {
    bytes: Vec<u8>,
    method: Range<usize>,
    uri: Range<usize>,
    proto: Range<usize>,
    host: Range<usize>,
    user_agent: Range<usize>,
    referer: Range<usize>,
}

impl RequestInfo {
    /// Copies what the line needs from a complete, validated head (`host` is the Host value's
    /// range in `head`).
    pub fn capture(&mut self, head: &[u8], host: Range<usize>) {
        self.clear();
        let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        let line = trim_cr(&head[..line_end]);
        let mut parts = line.splitn(3, |&b| b == b' ');
        self.method = self.push(parts.next().unwrap_or_default());
        self.uri = self.push(parts.next().unwrap_or_default());
        self.proto = self.push(parts.next().unwrap_or_default());
        self.host = self.push(&head[host]);
        for l in head[line_end.min(head.len())..].split(|&b| b == b'\n') {
            let l = trim_cr(l);
            if let Some(v) = value_of(l, b"user-agent") {
                self.user_agent = self.push(v);
            } else if let Some(v) = value_of(l, b"referer") {
                self.referer = self.push(v);
            }
        }
    }

    /// For a request refused before its head could be parsed: every field empty.
    pub fn clear(&mut self) {
        self.bytes.clear();
        *self = RequestInfo {
            bytes: std::mem::take(&mut self.bytes),
            ..RequestInfo::default()
        };
    }

    fn push(&mut self, v: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(v);
        start..self.bytes.len()
    }

    fn get(&self, r: &Range<usize>) -> &[u8] {
        &self.bytes[r.clone()]
    }
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn value_of<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let n = name.len();
    if line.len() > n && line[n] == b':' && line[..n].eq_ignore_ascii_case(name) {
        Some(line[n + 1..].trim_ascii())
    } else {
        None
    }
}

/// Appends one line (with its newline) to `out`.
pub fn write_line(
    out: &mut Vec<u8>,
    format: LogFormat,
    clock: &mut Clock,
    remote: &[u8],
    req: &RequestInfo,
    s: &Sample,
) {
    let millis = clock.tick();
    match format {
        LogFormat::Json => json(out, clock, millis, remote, req, s),
        LogFormat::Combined => combined(out, clock, remote, req, s),
    }
}

fn json(out: &mut Vec<u8>, clock: &Clock, millis: u32, remote: &[u8], r: &RequestInfo, s: &Sample) {
    out.extend_from_slice(b"{\"time\":\"");
    out.extend_from_slice(clock.iso().as_bytes());
    out.push(b'.');
    push_padded(out, millis as u64, 3);
    out.extend_from_slice(b"Z\",\"remote\":");
    json_str(out, remote);
    for (key, range) in [
        (&b",\"method\":"[..], &r.method),
        (b",\"uri\":", &r.uri),
        (b",\"proto\":", &r.proto),
        (b",\"host\":", &r.host),
    ] {
        out.extend_from_slice(key);
        json_str(out, r.get(range));
    }
    out.extend_from_slice(b",\"status\":");
    push_u64(out, s.status as u64);
    out.extend_from_slice(b",\"bytes_in\":");
    push_u64(out, s.bytes_in);
    out.extend_from_slice(b",\"bytes_out\":");
    push_u64(out, s.bytes_out);
    out.extend_from_slice(b",\"duration_ms\":");
    push_u64(out, s.micros / 1000);
    out.push(b'.');
    push_padded(out, s.micros % 1000, 3);
    out.extend_from_slice(b",\"location\":");
    json_str(out, s.route.map_or(&b""[..], |r| r.location.as_bytes()));
    out.extend_from_slice(b",\"upstream\":");
    json_str(out, s.upstream.map_or(&b""[..], |u| u.1.as_bytes()));
    out.extend_from_slice(b",\"endpoint\":\"");
    if let Some(e) = s.endpoint {
        push_addr(out, e);
    }
    out.extend_from_slice(b"\",\"retried\":");
    out.extend_from_slice(if s.retried { b"true" } else { b"false" });
    out.extend_from_slice(b",\"user_agent\":");
    json_str(out, r.get(&r.user_agent));
    out.extend_from_slice(b",\"referer\":");
    json_str(out, r.get(&r.referer));
    out.extend_from_slice(b"}\n");
}

/// `remote - - [time] "request line" status bytes "referer" "user-agent"` (bytes: the whole
/// response, head included).
fn combined(out: &mut Vec<u8>, clock: &Clock, remote: &[u8], r: &RequestInfo, s: &Sample) {
    out.extend_from_slice(remote);
    out.extend_from_slice(b" - - [");
    out.extend_from_slice(clock.clf().as_bytes());
    out.extend_from_slice(b"] \"");
    if r.method.is_empty() {
        out.push(b'-');
    } else {
        clf_str(out, r.get(&r.method));
        out.push(b' ');
        clf_str(out, r.get(&r.uri));
        out.push(b' ');
        clf_str(out, r.get(&r.proto));
    }
    out.extend_from_slice(b"\" ");
    push_u64(out, s.status as u64);
    out.push(b' ');
    push_u64(out, s.bytes_out);
    for range in [&r.referer, &r.user_agent] {
        out.extend_from_slice(b" \"");
        if range.is_empty() {
            out.push(b'-');
        } else {
            clf_str(out, r.get(range));
        }
        out.push(b'"');
    }
    out.push(b'\n');
}

/// A JSON string; bytes that are not printable ASCII are escaped as `\u00XX` (a log line must
/// stay valid JSON whatever a client sends).
fn json_str(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    // Almost every value needs no escaping: copy it whole.
    if v.iter()
        .all(|&b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    {
        out.extend_from_slice(v);
        out.push(b'"');
        return;
    }
    for &b in v {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(b),
            _ => hex_escape(out, b"\\u00", b),
        }
    }
    out.push(b'"');
}

/// nginx's escaping for combined logs: `"`, `\` and non-printable bytes as `\xXX`.
fn clf_str(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        match b {
            b'"' | b'\\' | 0..=0x1f | 0x7f..=0xff => hex_escape(out, b"\\x", b),
            _ => out.push(b),
        }
    }
}

fn hex_escape(out: &mut Vec<u8>, prefix: &[u8], b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(prefix);
    out.push(HEX[(b >> 4) as usize]);
    out.push(HEX[(b & 15) as usize]);
}

fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa(n).as_bytes());
}

/// `n` (below 10^width) with leading zeros.
fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut div = 10u64.pow(width as u32 - 1);
    while div > 0 {
        out.push(b'0' + (n / div % 10) as u8);
        div /= 10;
    }
}

/// `ip:port` without `fmt` (IPv6 as `[ip]:port`, through `fmt`, being rare here).
fn push_addr(out: &mut Vec<u8>, a: std::net::SocketAddr) {
    match a {
        std::net::SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, *o as u64);
            }
        }
        std::net::SocketAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "[{}]", v6.ip());
        }
    }
    out.push(b':');
    push_u64(out, a.port() as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RequestInfo {
        let head = b"GET /a?b=\"c\" HTTP/1.1\r\nHost: Example.com\r\nUser-Agent: t\xffool\r\nreferer: http://r/\r\n\r\n";
        let at = head.windows(11).position(|w| w == b"Example.com").unwrap();
        let mut r = RequestInfo::default();
        r.capture(head, at..at + 11);
        r
    }

    #[test]
    fn json_line_is_valid_json() {
        let s = Sample {
            status: 200,
            micros: 1234,
            bytes_out: 77,
            ..Sample::default()
        };
        let mut out = Vec::new();
        write_line(
            &mut out,
            LogFormat::Json,
            &mut Clock::default(),
            b"10.0.0.1",
            &info(),
            &s,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["method"], "GET");
        assert_eq!(v["uri"], "/a?b=\"c\"");
        assert_eq!(v["host"], "Example.com");
        assert_eq!(v["user_agent"], "t\u{ff}ool");
        assert_eq!(v["referer"], "http://r/");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.234);
        assert_eq!(v["bytes_out"], 77);
        assert!(out.ends_with(b"}\n"));
    }

    #[test]
    fn numbers_and_addresses() {
        let mut out = Vec::new();
        push_padded(&mut out, 7, 3);
        push_padded(&mut out, 999, 3);
        push_addr(&mut out, "10.0.0.255:8080".parse().unwrap());
        push_addr(&mut out, "[::1]:80".parse().unwrap());
        assert_eq!(out, b"00799910.0.0.255:8080[::1]:80");
    }

    #[test]
    fn combined_line() {
        let s = Sample {
            status: 404,
            bytes_out: 5,
            ..Sample::default()
        };
        let mut out = Vec::new();
        let mut clock = Clock::default();
        write_line(
            &mut out,
            LogFormat::Combined,
            &mut clock,
            b"10.0.0.1",
            &info(),
            &s,
        );
        let text = String::from_utf8(out).unwrap();
        let want = format!(
            "10.0.0.1 - - [{}] \"GET /a?b=\\x22c\\x22 HTTP/1.1\" 404 5 \"http://r/\" \"t\\xFFool\"\n",
            clock.clf()
        );
        assert_eq!(text, want);
        let mut empty = Vec::new();
        write_line(
            &mut empty,
            LogFormat::Combined,
            &mut clock,
            b"1.2.3.4",
            &RequestInfo::default(),
            &s,
        );
        assert!(String::from_utf8(empty)
            .unwrap()
            .contains("] \"-\" 404 5 \"-\" \"-\"\n"));
    }
}
