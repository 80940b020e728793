//! Keeps one connection's panic from taking its worker thread (and every other connection on
//! it) down. A panic is a bug; it is logged, that connection is dropped, the worker goes on.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct CatchUnwind<F>(pub F);

impl<F: Future<Output = ()>> Future for CatchUnwind<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(p) => p,
            Err(_) => {
                tracing::error!(target: "vane::worker", "a connection task panicked; connection dropped");
                Poll::Ready(())
            }
        }
    }
}
