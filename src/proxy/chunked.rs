//! A strict, incremental decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1).
//!
//! Pure state machine over byte slices, so it works on whatever a read returned. Strict where
//! leniency is a smuggling vector: CRLF only, hex digits only, no whitespace after the size.

use std::ops::Range;

/// Longest chunk-size line (size plus extensions) we accept.
const MAX_LINE: usize = 4096;
/// Trailers are read and dropped; this bounds how much of them we read.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body")]
pub struct ChunkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size { digits: u8 },
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    line: usize,
    trailers: usize,
}

/// What one `step` found: `consumed` bytes of input were used; `data` is the chunk payload
/// inside them (possibly empty); `done` once the last chunk and trailers were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub consumed: usize,
    pub data: Range<usize>,
    pub done: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            line: 0,
            trailers: 0,
        }
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing bytes until payload, the end of the input, or the end of the body.
    pub fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Data {
                let n = (input.len() - i).min(self.size as usize);
                self.size -= n as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                return Ok(Step {
                    consumed: i + n,
                    data: i..i + n,
                    done: false,
                });
            }
            self.byte(input[i])?;
            i += 1;
            if self.state == State::Done {
                return Ok(Step {
                    consumed: i,
                    data: i..i,
                    done: true,
                });
            }
        }
        Ok(Step {
            consumed: i,
            data: i..i,
            done: self.state == State::Done,
        })
    }

    fn byte(&mut self, b: u8) -> Result<(), ChunkError> {
        self.state = match (self.state, b) {
            (State::Size { digits }, _) if b.is_ascii_hexdigit() => {
                // RFC 9112 §7.1: a size that overflows must be rejected, not wrapped.
                if digits >= 15 {
                    return Err(ChunkError);
                }
                self.size = self.size * 16 + (b as char).to_digit(16).unwrap_or(0) as u64;
                self.line += 1;
                State::Size { digits: digits + 1 }
            }
            (State::Size { digits }, b';') if digits > 0 => State::Ext,
            (State::Size { digits }, b'\r') if digits > 0 => State::SizeLf,
            (State::Ext, b'\r') => State::SizeLf,
            (State::Ext, b) if b == b'\t' || (b >= 0x20 && b != 0x7f) => {
                self.line += 1;
                if self.line > MAX_LINE {
                    return Err(ChunkError);
                }
                State::Ext
            }
            (State::SizeLf, b'\n') if self.size == 0 => State::TrailerStart,
            (State::SizeLf, b'\n') => State::Data,
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => {
                self.line = 0;
                State::Size { digits: 0 }
            }
            (State::TrailerStart, b'\r') => State::FinalLf,
            (State::FinalLf, b'\n') => State::Done,
            (State::TrailerLine, b'\r') => State::TrailerLf,
            (State::TrailerStart | State::TrailerLine, b)
                if b == b'\t' || (b >= 0x20 && b != 0x7f) =>
            {
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err(ChunkError);
                }
                State::TrailerLine
            }
            (State::TrailerLf, b'\n') => State::TrailerStart,
            _ => return Err(ChunkError),
        };
        Ok(())
    }
}

/// Writes a chunk header for `len` payload bytes (`{len:x}\r\n`).
pub fn write_chunk_header(out: &mut Vec<u8>, len: usize) {
    use std::io::Write;
    let _ = write!(out, "{len:x}\r\n");
}

pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], split: usize) -> Result<(Vec<u8>, bool), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for part in input.chunks(split) {
            let mut off = 0;
            while off < part.len() {
                let s = d.step(&part[off..])?;
                out.extend_from_slice(&part[off..][s.data.clone()]);
                off += s.consumed;
                if s.done {
                    return Ok((out, true));
                }
            }
        }
        Ok((out, d.is_done()))
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        for split in 1..body.len() {
            assert_eq!(
                decode_all(body, split).unwrap(),
                (b"hello world".to_vec(), true),
                "split {split}"
            );
        }
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"5 \r\nhello\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"-1\r\n",
            b"\r\n",
            b"0x5\r\nhello\r\n",
            b"5\r\nhello\r\n0\r\n\r",
        ] {
            let r = decode_all(bad, 64);
            assert!(
                r.is_err() || !r.unwrap().1,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
