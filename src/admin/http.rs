//! One HTTP/1.1 exchange per connection: read a request (head parsed by `httparse`, body by
//! Content-Length only, both size-limited), write a response with `Connection: close`. The
//! admin API is low-volume; closing after each answer keeps the server free of keep-alive
//! state and of a whole class of framing bugs.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ApiError;

/// Longest request head; the API's heads are a request line and a few headers.
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest request body: options are at most 16 KiB, the rest of a body is small.
pub const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, not decoded, without the query.
    pub path: String,
    /// The query string, not decoded, without the `?`.
    pub query: Option<String>,
    pub authorization: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

impl Request {
    /// The percent-decoded value of query parameter `name` (the first one), if present.
    pub fn param(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(q) = &self.query else {
            return Ok(None);
        };
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_decode(k)? == name {
                return percent_decode(v).map(Some);
            }
        }
        Ok(None)
    }
}

/// Reads one request from `io` (answering `Expect: 100-continue`, so curl does not pause a
/// second before a larger body). The caller bounds the time it may take.
pub async fn read_request<S>(io: &mut S) -> Result<Request, ApiError>
where
    S: AsyncReadExt + AsyncWriteExt + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let Head {
        len: head_len,
        body_len: want,
        expect_continue,
        mut req,
    } = loop {
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| ApiError::bad_request(format!("read: {e}")))?;
        if n == 0 {
            return Err(ApiError::bad_request(
                "connection closed before a full request",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(parsed) = parse_head(&buf)? {
            break parsed;
        }
        if buf.len() > MAX_HEAD {
            return Err(ApiError::new(431, "request head too large"));
        }
    };
    req.body
        .extend_from_slice(&buf[head_len..buf.len().min(head_len + want)]);
    if expect_continue && req.body.len() < want {
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|e| ApiError::bad_request(format!("write: {e}")))?;
    }
    while req.body.len() < want {
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| ApiError::bad_request(format!("read: {e}")))?;
        if n == 0 {
            return Err(ApiError::bad_request("connection closed inside the body"));
        }
        let take = n.min(want - req.body.len());
        req.body.extend_from_slice(&chunk[..take]);
    }
    Ok(req)
}

struct Head {
    len: usize,
    /// The Content-Length.
    body_len: usize,
    expect_continue: bool,
    /// Its body still empty.
    req: Request,
}

/// `None`: the head is not complete yet.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ApiError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut headers);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ApiError::bad_request(format!("malformed request: {e}"))),
    };
    let (method, target) = (r.method.unwrap_or_default(), r.path.unwrap_or_default());
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (target, None),
    };
    if !path.starts_with('/') {
        return Err(ApiError::bad_request("the request target must be a path"));
    }
    let mut length = 0usize;
    let mut authorization = None;
    let mut expect_continue = false;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ApiError::bad_request("bad Content-Length"))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ApiError::new(411, "send the body with a Content-Length"));
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(h.value.to_vec());
        } else if h.name.eq_ignore_ascii_case("expect") {
            expect_continue = h.value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    if length > MAX_BODY {
        return Err(ApiError::new(
            413,
            format!("request body over {MAX_BODY} bytes"),
        ));
    }
    let req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        authorization,
        body: Vec::with_capacity(length),
    };
    Ok(Some(Head {
        len,
        body_len: length,
        expect_continue,
        req,
    }))
}

/// A response: a status and a body with its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra header lines, each without the CRLF.
    pub headers: Vec<String>,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec_pretty(v).unwrap_or_default();
        body.push(b'\n');
        Response {
            status,
            content_type: "application/json",
            body,
            headers: Vec::new(),
        }
    }

    pub fn error(e: &ApiError) -> Response {
        let mut r = Response::json(e.status, &e.body());
        if e.status == 401 {
            r.headers.push("www-authenticate: Bearer".into());
        }
        r
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for h in &self.headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

pub async fn write_response<W: AsyncWriteExt + Unpin>(io: &mut W, r: &Response) {
    let _ = io.write_all(&r.to_bytes()).await;
    let _ = io.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// `%XX` decoding (`+` stays a plus: these are paths and names, not form fields). The result
/// must be UTF-8.
pub fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request(format!("bad percent-encoding in `{s}`"));
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Request, ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(read_request(&mut tokio::io::join(bytes, tokio::io::sink())))
    }

    #[test]
    fn reads_a_request_with_a_body_and_a_query() {
        let r = read(b"PUT /v1/x?host=a%2Eb&path=/c+d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: 4\r\n\r\nbody").unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/v1/x"));
        assert_eq!(r.body, b"body");
        assert_eq!(r.authorization.as_deref(), Some(&b"Bearer t"[..]));
        assert_eq!(r.param("host").unwrap().as_deref(), Some("a.b"));
        assert_eq!(r.param("path").unwrap().as_deref(), Some("/c+d"));
        assert_eq!(r.param("nope").unwrap(), None);
    }

    #[test]
    fn answers_expect_100_continue_before_the_body() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (mut client, mut server) = tokio::io::duplex(4096);
        let req = rt.block_on(async {
            client
                .write_all(b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
                .await
                .unwrap();
            let reading = read_request(&mut server);
            let sending = async {
                let mut interim = [0u8; 25];
                client.read_exact(&mut interim).await.unwrap();
                assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
                client.write_all(b"{}").await.unwrap();
            };
            let (req, ()) = tokio::join!(reading, sending);
            req
        });
        assert_eq!(req.unwrap().body, b"{}");
    }

    #[test]
    fn refuses_what_it_cannot_frame() {
        let status = |b: &[u8]| read(b).unwrap_err().status;
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
            413
        );
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"), 400);
        assert_eq!(
            status(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            400
        );
        assert_eq!(status(b"GARBAGE\r\n\r\n"), 400);
        assert_eq!(status(b"GET http://x/ HTTP/1.1\r\n\r\n"), 400);
        let big = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD + 10]].concat();
        assert_eq!(status(&big), 431);
        assert_eq!(percent_decode("%zz").unwrap_err().status, 400);
        assert_eq!(percent_decode("%ff").unwrap_err().status, 400);
    }

    #[test]
    fn writes_json_errors() {
        let e = ApiError::bad_key("/vulcand/hosts/h/locations/l/path", "bad path regex");
        let text = String::from_utf8(Response::error(&e).to_bytes()).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        let body: serde_json::Value =
            serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["key"], "/vulcand/hosts/h/locations/l/path");
        assert!(body["error"].as_str().unwrap().contains("bad path regex"));
    }
}
