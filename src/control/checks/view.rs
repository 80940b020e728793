//! What the checker knows, for readers off the checker thread (admin API, metrics): one
//! record per checked endpoint, copied in by the checker as results arrive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// One checked endpoint. While `up` is false the workers send it no traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCheck {
    pub upstream: Box<str>,
    pub endpoint: SocketAddr,
    /// New endpoints start up (optimistic) and are checked at once.
    pub up: bool,
    /// The current streak: one of the two is 0.
    pub consecutive_successes: u32,
    pub consecutive_failures: u32,
    /// When the last check finished; `None` before the first one did.
    pub last_checked: Option<SystemTime>,
    /// Why the last failed check failed ("connect refused", "timeout", "status 503"); kept
    /// after a success, so a flapping endpoint shows its last reason.
    pub last_error: Option<String>,
    pub checks_total: u64,
    pub failures_total: u64,
}

pub(super) type Key = (Box<str>, SocketAddr);

#[derive(Default)]
struct State {
    endpoints: BTreeMap<Key, EndpointCheck>,
    version: u64,
}

/// A cheap handle (clone it freely) on the checker's results.
#[derive(Clone, Default)]
pub struct CheckView(Arc<Mutex<State>>);

impl CheckView {
    /// Every checked endpoint, sorted by upstream name, then address.
    pub fn endpoints(&self) -> Vec<EndpointCheck> {
        self.lock().endpoints.values().cloned().collect()
    }

    /// The version of the last down-table sent to the workers (0: none sent yet).
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    pub(super) fn set(&self, check: &EndpointCheck) {
        let key = (check.upstream.clone(), check.endpoint);
        self.lock().endpoints.insert(key, check.clone());
    }

    pub(super) fn remove(&self, key: &Key) {
        self.lock().endpoints.remove(key);
    }

    pub(super) fn set_version(&self, version: u64) {
        self.lock().version = version;
    }

    /// A reader that panicked cannot have left a half-written record: writes are single
    /// inserts, so a poisoned lock is still consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
