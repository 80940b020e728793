//! Streams a message body from one connection to another, never buffering it whole.
//!
//! Each piece is written as soon as it is read, so a chunk of a slow stream (SSE, long-poll)
//! reaches the client when it arrives.

use std::io;
use std::time::Duration;

use monoio::net::TcpStream;

use super::chunked::{write_chunk_header, ChunkError, ChunkedDecoder, LAST_CHUNK};
use super::io::{write_vec, Io, BODY_BUF};

/// How the source delimits the body.
pub enum Source {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// Which side broke the relay: it decides the status and which connection is dropped.
#[derive(Debug)]
pub enum RelayError {
    /// Read error, early EOF or idle timeout on the source.
    Source,
    /// Bad chunked framing from the source.
    Framing,
    /// Write error on the destination.
    Sink,
    /// More body than the limit allows.
    TooLarge,
}

impl From<ChunkError> for RelayError {
    fn from(_: ChunkError) -> Self {
        RelayError::Framing
    }
}

pub struct Relay<'a> {
    pub idle: Duration,
    /// Re-encode as chunked on the way out (else the bytes go out as they are).
    pub chunk_out: bool,
    pub max: Option<u64>,
    pub scratch: &'a mut Vec<u8>,
}

impl Relay<'_> {
    /// Relays the whole body; returns the payload bytes relayed.
    pub async fn run(
        &mut self,
        src: &mut Io,
        dst: &mut TcpStream,
        mut source: Source,
    ) -> Result<u64, RelayError> {
        let mut total = 0u64;
        src.grow_for_body();
        loop {
            if src.pending().is_empty() && !is_done(&source) {
                let n = monoio::time::timeout(self.idle, src.fill(BODY_BUF)).await;
                match n {
                    Ok(Ok(0)) if matches!(source, Source::UntilClose) => break,
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err(RelayError::Source),
                    Ok(Ok(_)) => {}
                }
            }
            if is_done(&source) {
                break;
            }
            let (consumed, data) = match &mut source {
                Source::Length(rem) => {
                    let n = (*rem).min(src.pending().len() as u64) as usize;
                    *rem -= n as u64;
                    (n, 0..n)
                }
                Source::Chunked(dec) => {
                    let step = dec.step(src.pending())?;
                    (step.consumed, step.data)
                }
                Source::UntilClose => (src.pending().len(), 0..src.pending().len()),
            };
            total += data.len() as u64;
            if self.max.is_some_and(|m| total > m) {
                return Err(RelayError::TooLarge);
            }
            self.emit(src, dst, consumed, data)
                .await
                .map_err(|_| RelayError::Sink)?;
        }
        if self.chunk_out {
            self.scratch.extend_from_slice(LAST_CHUNK);
            write_vec(dst, self.scratch)
                .await
                .map_err(|_| RelayError::Sink)?;
        }
        Ok(total)
    }

    async fn emit(
        &mut self,
        src: &mut Io,
        dst: &mut TcpStream,
        consumed: usize,
        data: std::ops::Range<usize>,
    ) -> io::Result<()> {
        if data.is_empty() {
            src.consume(consumed);
            return Ok(());
        }
        if !self.chunk_out && data.start == 0 && data.end == consumed {
            return src.relay_pending(dst, data).await;
        }
        if self.chunk_out {
            write_chunk_header(self.scratch, data.len());
        }
        self.scratch.extend_from_slice(&src.pending()[data]);
        if self.chunk_out {
            self.scratch.extend_from_slice(b"\r\n");
        }
        src.consume(consumed);
        write_vec(dst, self.scratch).await
    }
}

fn is_done(source: &Source) -> bool {
    match source {
        Source::Length(rem) => *rem == 0,
        Source::Chunked(dec) => dec.is_done(),
        Source::UntilClose => false,
    }
}
