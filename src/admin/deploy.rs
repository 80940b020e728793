//! Blue-green switches with a way back. `POST /v1/hosts/{h}/locations/{l}/deploy`
//! `{"upstream": "v2"}` points the location at another upstream and records where it pointed
//! before under `<prefix>/vane/deploys/<host>/<location>` (JSON `{"from", "to", "unix_ms"}`,
//! in etcd, so any node's API, and any later process, can roll back); `POST .../rollback`
//! points it back and removes the record. Both are conditional transactions: if anyone changed
//! the location's upstream in between, nothing is written and the answer is 409.

use std::time::SystemTime;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::etcd::{revision, unchanged, Writer};
use super::http::{Request, Response};
use super::plan::location_keys;
use super::writes::{answer, body, writer};
use super::{unix_ms, ApiError, Shared};
use crate::model::etcd_keys::{upstream_dir, EtcdKey};
use crate::model::validate_name;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    upstream: String,
}

/// The deploy record: the location pointed at `from` until a deploy pointed it at `to`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    from: String,
    to: String,
    unix_ms: u64,
}

/// `<prefix>/vane/deploys/<host>/<location>`: outside the route layout, so the etcd source
/// ignores it.
pub(super) fn record_key(prefix: &str, host: &str, location: &str) -> String {
    format!("{prefix}/vane/deploys/{host}/{location}")
}

struct Keys {
    host: String,
    upstream: String,
    record: String,
}

fn keys(w: &Writer, raw_host: &str, location: &str) -> Result<Keys, ApiError> {
    let (host, _) = location_keys(w.prefix(), raw_host, location)?;
    let upstream = EtcdKey::LocationUpstream {
        host: &host,
        location,
    }
    .to_key(w.prefix());
    let record = record_key(w.prefix(), &host, location);
    Ok(Keys {
        host,
        upstream,
        record,
    })
}

async fn current_upstream(w: &Writer, k: &Keys, location: &str) -> Result<String, ApiError> {
    let (v, _) = w.get(&k.upstream).await?.ok_or_else(|| {
        ApiError::not_found(format!("no location `{location}` on host `{}`", k.host))
    })?;
    Ok(v.trim().to_string())
}

async fn require_upstream(w: &Writer, name: &str, key: &str) -> Result<(), ApiError> {
    validate_name(name).map_err(|m| ApiError::bad_key(key, m))?;
    if !w.dir_exists(&upstream_dir(w.prefix(), name)).await? {
        return Err(ApiError::conflict(format!(
            "upstream `{name}` does not exist (no keys under {})",
            upstream_dir(w.prefix(), name)
        )));
    }
    Ok(())
}

pub(super) async fn switch(
    req: &Request,
    s: &Shared,
    raw_host: &str,
    location: &str,
) -> Result<Response, ApiError> {
    let w = writer(s)?;
    let b: SwitchBody = body(req)?;
    let k = keys(w, raw_host, location)?;
    let to = b.upstream.trim();
    require_upstream(w, to, &k.upstream).await?;
    let from = current_upstream(w, &k, location).await?;
    if from == to {
        return Err(ApiError::conflict(format!(
            "location `{location}` already routes to `{to}`"
        )));
    }
    let record = Record {
        from: from.clone(),
        to: to.to_string(),
        unix_ms: unix_ms(SystemTime::now()),
    };
    let record_json = serde_json::to_string(&record).unwrap_or_default();
    let txn = Txn::new().when([unchanged(&k.upstream, &from)]).and_then([
        TxnOp::put(k.upstream.as_str(), to, None),
        TxnOp::put(k.record.as_str(), record_json, None),
    ]);
    let resp = w.txn(txn).await?;
    if !resp.succeeded() {
        return Err(changed_meanwhile(location));
    }
    let extra = json!({ "from": from, "to": to, "record": k.record });
    answer(req, s, 200, revision(&resp), extra).await
}

pub(super) async fn rollback(
    req: &Request,
    s: &Shared,
    raw_host: &str,
    location: &str,
) -> Result<Response, ApiError> {
    let w = writer(s)?;
    let k = keys(w, raw_host, location)?;
    let (text, record_rev) = w.get(&k.record).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no deploy recorded for `{}/{location}` ({})",
            k.host, k.record
        ))
    })?;
    let rec: Record = serde_json::from_str(&text)
        .map_err(|e| ApiError::conflict(format!("{}: not a deploy record: {e}", k.record)))?;
    let now = current_upstream(w, &k, location).await?;
    if now != rec.to {
        return Err(ApiError::conflict(format!(
            "location `{location}` routes to `{now}`, not to `{}` as the last deploy left it: \
             not rolling back",
            rec.to
        )));
    }
    require_upstream(w, &rec.from, &k.upstream).await?;
    let txn = Txn::new()
        .when([
            unchanged(&k.upstream, &rec.to),
            Compare::mod_revision(k.record.as_str(), CompareOp::Equal, record_rev),
        ])
        .and_then([
            TxnOp::put(k.upstream.as_str(), rec.from.as_str(), None),
            TxnOp::delete(k.record.as_str(), None),
        ]);
    let resp = w.txn(txn).await?;
    if !resp.succeeded() {
        return Err(changed_meanwhile(location));
    }
    let extra = json!({ "from": rec.to, "to": rec.from });
    answer(req, s, 200, revision(&resp), extra).await
}

fn changed_meanwhile(location: &str) -> ApiError {
    ApiError::conflict(format!(
        "location `{location}` changed while this request ran: nothing written, try again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_live_outside_the_route_layout() {
        let k = record_key("/vulcand", "example.com", "home");
        assert_eq!(k, "/vulcand/vane/deploys/example.com/home");
        assert_eq!(crate::model::etcd_keys::parse_key("/vulcand", &k), None);
        let r = Record {
            from: "a".into(),
            to: "b".into(),
            unix_ms: 1,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }
}
