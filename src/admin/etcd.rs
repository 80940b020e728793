//! The admin thread's own etcd client (the same members as the node's etcd source), made on
//! the first write and kept: its balanced channel moves between members by itself. Every call
//! is bounded; a failure answers 503 and the next request starts from a fresh client.

use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{
    Client, Compare, ConnectOptions, DeleteOptions, GetOptions, Txn, TxnOp, TxnOpResponse,
};
use tokio::time::timeout;

use super::ApiError;
use crate::model::EtcdSettings;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Writer {
    settings: EtcdSettings,
    client: Mutex<Option<Client>>,
}

/// One write: operations applied in one transaction, plus the range whose existence before
/// the transaction tells "created" from "replaced" (and "deleted" from "not found").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    pub probe: Range,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Range {
    Key(String),
    /// Every key under `dir/`.
    Dir(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Put(String, String),
    Delete(Range),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome {
    /// The etcd revision after the write: the node serves it once its workers report it.
    pub revision: i64,
    /// Whether the probed range held any key before the write.
    pub existed: bool,
}

impl Range {
    fn key_and_prefix(&self) -> (String, bool) {
        match self {
            Range::Key(k) => (k.clone(), false),
            Range::Dir(d) => (format!("{d}/"), true),
        }
    }

    fn get(&self) -> TxnOp {
        let (key, prefix) = self.key_and_prefix();
        let mut o = GetOptions::new().with_count_only();
        if prefix {
            o = o.with_prefix();
        }
        TxnOp::get(key, Some(o))
    }

    fn delete(&self) -> TxnOp {
        let (key, prefix) = self.key_and_prefix();
        TxnOp::delete(key, prefix.then(|| DeleteOptions::new().with_prefix()))
    }
}

impl Writer {
    pub fn new(settings: EtcdSettings) -> Writer {
        Writer {
            settings,
            client: Mutex::new(None),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.settings.prefix
    }

    async fn client(&self) -> Result<Client, ApiError> {
        if let Some(c) = self
            .client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(c);
        }
        let opts = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(CALL_TIMEOUT)
            // A member cut off from its quorum refuses instead of taking a write it cannot
            // commit.
            .with_require_leader(true);
        let eps = &self.settings.endpoints;
        let c = match timeout(CALL_TIMEOUT, Client::connect(eps, Some(opts))).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(ApiError::unavailable(format!("etcd: {e}"))),
            Err(_) => return Err(ApiError::unavailable("etcd: connect timed out")),
        };
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    fn forget(&self) {
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Runs `txn`; a failure (not a failed compare) is 503.
    pub async fn txn(&self, txn: Txn) -> Result<etcd_client::TxnResponse, ApiError> {
        let mut kv = self.client().await?.kv_client();
        match timeout(CALL_TIMEOUT, kv.txn(txn)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.forget();
                Err(ApiError::unavailable(format!("etcd: {e}")))
            }
            Err(_) => {
                self.forget();
                Err(ApiError::unavailable("etcd: the write timed out"))
            }
        }
    }

    /// Applies `plan` atomically.
    pub async fn apply(&self, plan: &Plan) -> Result<Outcome, ApiError> {
        let mut ops = vec![plan.probe.get()];
        for op in &plan.ops {
            ops.push(match op {
                Op::Put(k, v) => TxnOp::put(k.as_str(), v.as_str(), None),
                Op::Delete(r) => r.delete(),
            });
        }
        let resp = self.txn(Txn::new().and_then(ops)).await?;
        let existed = match resp.op_responses().first() {
            Some(TxnOpResponse::Get(g)) => g.count() > 0,
            _ => false,
        };
        Ok(Outcome {
            revision: revision(&resp),
            existed,
        })
    }

    /// The value and mod revision of `key`, read in a transaction so it shares `txn`'s client.
    pub async fn get(&self, key: &str) -> Result<Option<(String, i64)>, ApiError> {
        let resp = self
            .txn(Txn::new().and_then([TxnOp::get(key, None)]))
            .await?;
        let Some(TxnOpResponse::Get(g)) = resp.op_responses().into_iter().next() else {
            return Ok(None);
        };
        Ok(g.kvs().first().map(|kv| {
            let v = String::from_utf8_lossy(kv.value()).into_owned();
            (v, kv.mod_revision())
        }))
    }

    /// Whether any key lies under `dir/`.
    pub async fn dir_exists(&self, dir: &str) -> Result<bool, ApiError> {
        let probe = Range::Dir(dir.to_string()).get();
        let resp = self.txn(Txn::new().and_then([probe])).await?;
        Ok(matches!(resp.op_responses().first(), Some(TxnOpResponse::Get(g)) if g.count() > 0))
    }
}

pub(super) fn revision(r: &etcd_client::TxnResponse) -> i64 {
    r.header().map_or(0, |h| h.revision())
}

/// `key`'s value is still `value` (a compare for a conditional write).
pub(super) fn unchanged(key: &str, value: &str) -> Compare {
    Compare::value(key, etcd_client::CompareOp::Equal, value)
}
