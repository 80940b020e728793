//! A raw HTTP/1.1 client: tests need to send malformed bytes and see exactly what comes back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One request on a new connection: `GET path` with `Host: host`.
pub fn get(addr: SocketAddr, host: &str, path: &str) -> Response {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_response(&mut BufReader::new(s), false).expect("response")
}

/// Sends raw bytes on a new connection and reads one response (None if the connection closed
/// without one).
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<Response> {
    let mut s = connect(addr);
    s.write_all(bytes).ok()?;
    read_response(&mut BufReader::new(s), false)
}

/// Reads one response; `head_request`: the request was HEAD (no body follows).
pub fn read_response<R: Read>(r: &mut BufReader<R>, head_request: bool) -> Option<Response> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let headers = read_headers(r)?;
        if (100..200).contains(&status) {
            continue;
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 {
            return Some(resp);
        }
        if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            resp.body = read_chunked(r)?;
        } else if let Some(n) = resp.header("content-length") {
            let mut body = vec![0; n.parse().ok()?];
            r.read_exact(&mut body).ok()?;
            resp.body = body;
        } else {
            r.read_to_end(&mut resp.body).ok()?;
        }
        return Some(resp);
    }
}

fn read_headers<R: Read>(r: &mut BufReader<R>) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Some(headers);
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
}

/// Reads one chunk (size line + data); `None` at the last chunk.
pub fn read_chunk<R: Read>(r: &mut BufReader<R>) -> Option<Option<Vec<u8>>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let size = usize::from_str_radix(line.trim_end().split(';').next()?, 16).ok()?;
    if size == 0 {
        let mut end = String::new();
        while r.read_line(&mut end).ok()? > 0 && !end.trim_end().is_empty() {
            end.clear();
        }
        return Some(None);
    }
    let mut data = vec![0; size + 2];
    r.read_exact(&mut data).ok()?;
    data.truncate(size);
    Some(Some(data))
}

fn read_chunked<R: Read>(r: &mut BufReader<R>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = read_chunk(r)? {
        body.extend_from_slice(&chunk);
    }
    Some(body)
}
