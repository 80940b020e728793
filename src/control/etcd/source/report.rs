//! What the control loop tells the operator: connection changes (log + status), rejected
//! keys (logged once each, with key and revision), and status.json.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Source, NAG_EVERY};
use crate::control::etcd::status::{write_status, RejectionDoc};

impl Source {
    pub(super) fn connected(&mut self, endpoint: &str) {
        let was = {
            let mut doc = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let was = doc.etcd.connected;
            doc.etcd.connected = true;
            doc.etcd.endpoint = Some(endpoint.to_string());
            was
        };
        if !was {
            tracing::info!(target: "vane::etcd", endpoint, "connected to etcd");
            self.last_nag = None;
        }
        self.write_status();
    }

    pub(super) fn disconnected(&mut self, endpoint: &str, err: &str) {
        let was = {
            let mut doc = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let was = doc.etcd.connected;
            doc.etcd.connected = false;
            doc.etcd.endpoint = Some(endpoint.to_string());
            doc.etcd.last_error = Some(err.to_string());
            doc.etcd.reconnects += u64::from(was);
            was
        };
        let nag = self.last_nag.is_none_or(|t| t.elapsed() >= NAG_EVERY);
        if was || nag {
            self.last_nag = Some(Instant::now());
            tracing::warn!(
                target: "vane::etcd",
                endpoint,
                source = ?self.source,
                "etcd unreachable, still serving the last routes and retrying: {err}"
            );
        } else {
            tracing::debug!(target: "vane::etcd", endpoint, "etcd attempt failed: {err}");
        }
        self.write_status();
    }

    /// Logs each newly rejected key (key, revision, error) once, and each key no longer
    /// rejected.
    pub(super) fn log_rejections(&mut self) {
        let now: BTreeMap<String, i64> = self
            .store
            .rejections()
            .into_iter()
            .map(|r| {
                if self.logged.get(&r.key) != Some(&r.revision) {
                    tracing::warn!(
                        target: "vane::etcd",
                        key = %r.key,
                        revision = r.revision,
                        "rejected key (the rest applies; the last good version of its entity \
                         stays): {}",
                        r.error
                    );
                }
                (r.key, r.revision)
            })
            .collect();
        for k in self.logged.keys().filter(|k| !now.contains_key(*k)) {
            tracing::info!(target: "vane::etcd", key = %k, "key no longer rejected");
        }
        self.logged = now;
    }

    pub(super) fn write_status(&mut self) {
        self.last_status = Instant::now();
        let mut doc = self.status.lock().unwrap_or_else(|p| p.into_inner());
        doc.source = self.source;
        doc.revision = self.store.revision();
        doc.generation = self.applier.generation();
        doc.rejections = self
            .store
            .rejections()
            .into_iter()
            .map(|r| RejectionDoc {
                key: r.key,
                revision: r.revision,
                error: r.error,
            })
            .collect();
        doc.publish = self.applier.latencies.doc(self.applier.last_latency_us);
        doc.refresh(self.applier.links());
        if let Err(e) = write_status(&self.etcd.state_dir, &doc) {
            tracing::debug!(target: "vane::etcd", "cannot write status.json: {e}");
        }
    }
}
