//! Wakes a worker from another thread at once, without the worker polling on a timer.
//! Relies on monoio's `sync` feature, which makes its wakers safe to call cross-thread.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use atomic_waker::AtomicWaker;

#[derive(Clone, Default)]
pub struct Doorbell {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    rung: AtomicBool,
    waker: AtomicWaker,
}

impl Doorbell {
    pub fn ring(&self) {
        self.inner.rung.store(true, Ordering::Release);
        self.inner.waker.wake();
    }

    /// Resolves once the bell has rung since the last wait returned.
    pub async fn wait(&self) {
        poll_fn(|cx| {
            if self.inner.rung.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            self.inner.waker.register(cx.waker());
            if self.inner.rung.swap(false, Ordering::AcqRel) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}
