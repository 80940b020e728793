//! A TCP stream with its read buffer, on monoio's owned-buffer I/O.
//!
//! Bytes `buf[start..]` are read but not yet consumed. Buffers start small (an idle keep-alive
//! connection must cost little memory) and grow only while a head or a body needs it.

use std::io;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent,
};
use monoio::net::TcpStream;

/// Initial read buffer: enough for a typical request head.
pub const SMALL_BUF: usize = 2048;
/// Read size while relaying a body.
pub const BODY_BUF: usize = 64 * 1024;

pub struct Io {
    pub stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    /// Bytes read so far, for the byte counters.
    pub read_total: u64,
}

impl Io {
    pub fn new(stream: TcpStream, capacity: usize) -> Self {
        Io {
            stream,
            buf: Vec::with_capacity(capacity),
            start: 0,
            read_total: 0,
        }
    }

    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads more bytes; `Ok(0)` means end of stream. Makes room by compacting, then by growing
    /// up to `max` bytes of capacity; errors with `OutOfMemory` when the buffer is full at `max`.
    pub async fn fill(&mut self, max: usize) -> io::Result<usize> {
        self.make_room(max)?;
        let buf = std::mem::take(&mut self.buf);
        let len = buf.len();
        // SAFETY: `len` is within the initialized part; the read fills `len..capacity`.
        let slice = unsafe { buf.slice_mut_unchecked(len..) };
        let (res, slice) = self.stream.read(slice).await;
        self.buf = slice.into_inner();
        self.count(res)
    }

    /// Like `fill`, but the read ends with an error when `cancel` fires (worker draining).
    pub async fn fill_cancelable(&mut self, max: usize, cancel: CancelHandle) -> io::Result<usize> {
        self.make_room(max)?;
        let buf = std::mem::take(&mut self.buf);
        let len = buf.len();
        // SAFETY: as in `fill`.
        let slice = unsafe { buf.slice_mut_unchecked(len..) };
        let (res, slice) = self.stream.cancelable_read(slice, cancel).await;
        self.buf = slice.into_inner();
        self.count(res)
    }

    #[inline]
    fn count(&mut self, res: io::Result<usize>) -> io::Result<usize> {
        if let Ok(n) = res {
            self.read_total += n as u64;
        }
        res
    }

    fn make_room(&mut self, max: usize) -> io::Result<()> {
        if self.buf.len() < self.buf.capacity() {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
            return Ok(());
        }
        let cap = self.buf.capacity();
        if cap >= max {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        // `max` may be below SMALL_BUF (a small configured head limit): never clamp inverted.
        self.buf
            .reserve_exact((cap * 2).max(SMALL_BUF).min(max) - self.buf.len());
        Ok(())
    }

    /// Lets a body relay read in large pieces.
    pub fn grow_for_body(&mut self) {
        if self.buf.capacity() < BODY_BUF {
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.reserve_exact(BODY_BUF - self.buf.len());
        }
    }

    /// Gives back a large buffer once a message is done, so idle connections stay small.
    pub fn shrink(&mut self) {
        if self.buf.capacity() > 4 * SMALL_BUF && self.pending().len() <= SMALL_BUF {
            let mut small = Vec::with_capacity(SMALL_BUF);
            small.extend_from_slice(self.pending());
            self.buf = small;
            self.start = 0;
        }
    }

    /// Writes `pending()[range]` to `dst` without copying, then consumes up to `range.end`.
    pub async fn relay_pending(
        &mut self,
        dst: &mut TcpStream,
        range: std::ops::Range<usize>,
    ) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let (a, b) = (self.start + range.start, self.start + range.end);
        let (res, slice) = dst.write_all(buf.slice(a..b)).await;
        self.buf = slice.into_inner();
        res?;
        self.consume(range.end);
        Ok(())
    }
}

/// Writes all of `out` to `dst`; `out` comes back cleared for reuse.
pub async fn write_vec(dst: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    let res = write_keep(dst, out).await;
    out.clear();
    res
}

/// Writes all of `out` to `dst` and leaves `out` as it was (so it can be sent again).
pub async fn write_keep(dst: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    let buf = std::mem::take(out);
    let (res, buf) = dst.write_all(buf).await;
    *out = buf;
    res.map(|_| ())
}

/// Half-closes and flushes: lets an error response reach the client before the socket closes.
pub async fn shutdown(dst: &mut TcpStream) {
    let _ = dst.shutdown().await;
}
