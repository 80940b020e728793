//! The request pipeline: read and validate the head (limits, RFC 9112 smuggling rules), route,
//! pick an endpoint, forward the head and stream the body, stream the response back, and turn
//! errors into responses in one place (`respond`). Knows nothing of where config comes from.
//!
//! An HTTP/1.1 codec of our own on `httparse` replaces monoio-http here: monoio-http does no
//! hop-by-hop handling, buffers chunked output (stalling SSE) and cannot frame HEAD responses.

mod body;
pub mod chunked;
mod conn;
mod ctx;
pub mod error;
mod forward;
pub mod head;
pub mod headers;
mod io;
mod policy;
pub mod respond;
pub mod response;

pub use conn::serve;
pub use ctx::WorkerCtx;
