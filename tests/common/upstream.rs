//! Real upstream servers on free ports, each connection on its own thread. They record what
//! they received, so tests can assert what did (or did not) reach an upstream.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub head: String,
    pub body: Vec<u8>,
    /// Index of the connection it arrived on (0-based, in accept order).
    pub conn: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

type Handler = dyn Fn(&Seen, &mut TcpStream) -> bool + Send + Sync;

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub conns: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    /// Serves requests with `handler`, which writes a response and returns whether to keep the
    /// connection open.
    pub fn start(
        handler: impl Fn(&Seen, &mut TcpStream) -> bool + Send + Sync + 'static,
    ) -> Upstream {
        let handler: Arc<Handler> = Arc::new(handler);
        Self::start_raw(move |stream, conn, seen| serve_http(stream, conn, seen, &*handler))
    }

    /// Like `start`, on `addr`: brings a stopped upstream back on its port.
    pub fn start_on(
        addr: SocketAddr,
        handler: impl Fn(&Seen, &mut TcpStream) -> bool + Send + Sync + 'static,
    ) -> std::io::Result<Upstream> {
        let listener = TcpListener::bind(addr)?;
        let handler: Arc<Handler> = Arc::new(handler);
        Ok(Self::serve(listener, move |stream, conn, seen| {
            serve_http(stream, conn, seen, &*handler)
        }))
    }

    /// Hands each accepted connection to `f` (for faults: resets, hangs, garbage).
    pub fn start_raw(
        f: impl Fn(TcpStream, usize, Arc<Mutex<Vec<Seen>>>) + Send + Sync + 'static,
    ) -> Upstream {
        Self::serve(TcpListener::bind("127.0.0.1:0").unwrap(), f)
    }

    fn serve(
        listener: TcpListener,
        f: impl Fn(TcpStream, usize, Arc<Mutex<Vec<Seen>>>) + Send + Sync + 'static,
    ) -> Upstream {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let f = Arc::new(f);
        let (seen2, conns2, stop2) = (seen.clone(), conns.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let n = conns2.fetch_add(1, Ordering::SeqCst);
                let (f, seen) = (f.clone(), seen2.clone());
                std::thread::spawn(move || f(stream, n, seen));
            }
        });
        Upstream {
            addr,
            seen,
            conns,
            stop,
        }
    }

    /// 200 with a fixed body, keep-alive.
    pub fn ok(body: &'static str) -> Upstream {
        Self::start(move |_, s| {
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
                body.len()
            );
            true
        })
    }

    /// 200 whose body is the request line, so tests see where a request went.
    pub fn echo_line() -> Upstream {
        Self::start(|seen, s| {
            let line = seen.request_line().to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
                line.len()
            );
            true
        })
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_http(stream: TcpStream, conn: usize, seen: Arc<Mutex<Vec<Seen>>>, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    // Responses written in pieces would otherwise meet delayed ACKs (Nagle): 40 ms stalls.
    let _ = stream.set_nodelay(true);
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    while let Some(req) = read_request(&mut r, conn) {
        seen.lock().unwrap().push(req.clone());
        if !handler(&req, &mut w) {
            return;
        }
    }
}

/// Reads one request (head and Content-Length or chunked body).
pub fn read_request<R: Read>(r: &mut BufReader<R>, conn: usize) -> Option<Seen> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut seen = Seen {
        head,
        body: Vec::new(),
        conn,
    };
    if let Some(n) = seen.header("content-length") {
        let mut body = vec![0; n.parse().ok()?];
        r.read_exact(&mut body).ok()?;
        seen.body = body;
    } else if seen.header("transfer-encoding").is_some() {
        let mut body = Vec::new();
        while let Some(chunk) = super::client::read_chunk(r)? {
            body.extend_from_slice(&chunk);
        }
        seen.body = body;
    }
    Some(seen)
}
