//! One connection to one etcd member, and the consistent full read: the prefix and every
//! discovery directory, all at one revision, paged so a large route table never needs one
//! giant response.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions, KvClient};
use tokio::time::timeout;

use crate::control::Kv;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Any unary call (one page of a read) that takes longer means the member is stuck.
pub(super) const RPC_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 pings: etcd answers `too many pings` below 5 s; at 10 s + 5 s a frozen member is
/// noticed even where the watch's own probe is not (see `watch.rs`).
const KEEP_ALIVE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(5));
const PAGE: i64 = 2000;
/// Room for a page of large values or a watch response carrying a big transaction.
pub(super) const MAX_MESSAGE: usize = 256 << 20;

/// A client bound to exactly one member: the source rotates members itself, so a dead or
/// frozen one costs one timeout, not a stuck balanced channel.
pub(super) async fn connect(endpoint: &str) -> Result<Client, String> {
    let opts = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_keep_alive(KEEP_ALIVE.0, KEEP_ALIVE.1)
        // A member cut off from its quorum cancels our watch instead of serving stale data.
        .with_require_leader(true);
    match timeout(RPC_TIMEOUT, Client::connect([endpoint], Some(opts))).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err("connect: timed out".into()),
    }
}

/// Everything Vane reads, at one revision: keys unique, in key order.
pub(super) struct FullRead {
    pub revision: i64,
    pub kvs: Vec<Kv>,
}

/// Reads `prefix` at the current revision R, then, at R too, each directory `dirs_to_read`
/// names given the prefix's keys (the store's discovery rule).
pub(super) async fn read_all(
    client: &Client,
    prefix: &str,
    dirs_to_read: impl FnOnce(&[Kv]) -> BTreeSet<String>,
) -> Result<FullRead, String> {
    let mut kv = client.kv_client().max_decoding_message_size(MAX_MESSAGE);
    let (prefix_kvs, revision) = read_dir(&mut kv, prefix, 0).await?;
    let dirs = dirs_to_read(&prefix_kvs);
    let mut all: BTreeMap<String, (Vec<u8>, i64)> = BTreeMap::new();
    for (k, v, r) in prefix_kvs {
        all.insert(k, (v, r));
    }
    for d in &dirs {
        // A directory inside the prefix (or inside another directory) was read already;
        // reading it again at the same revision gives the same keys.
        for (k, v, r) in read_dir(&mut kv, d, revision).await?.0 {
            all.insert(k, (v, r));
        }
    }
    let kvs = all.into_iter().map(|(k, (v, r))| (k, v, r)).collect();
    Ok(FullRead { revision, kvs })
}

/// The key range a directory covers: `dir/` and everything under it.
pub(super) fn dir_key(dir: &str) -> String {
    format!("{dir}/")
}

/// The first key after every key starting with `prefix` (etcd's range end for a prefix).
pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // the whole keyspace
}

/// All keys under `dir/` at `revision` (0: the current one), page by page. Returns the keys
/// and the revision they were read at.
async fn read_dir(kv: &mut KvClient, dir: &str, revision: i64) -> Result<(Vec<Kv>, i64), String> {
    let start = dir_key(dir).into_bytes();
    let end = prefix_end(&start);
    let mut from = start;
    let mut revision = revision;
    let mut out = Vec::new();
    loop {
        let mut opts = GetOptions::new().with_range(end.clone()).with_limit(PAGE);
        if revision > 0 {
            opts = opts.with_revision(revision);
        }
        let resp = match timeout(RPC_TIMEOUT, kv.get(from.clone(), Some(opts))).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(format!("get {dir}/: {e}")),
            Err(_) => return Err(format!("get {dir}/: timed out")),
        };
        if revision == 0 {
            revision = resp.header().map_or(0, |h| h.revision());
        }
        for kv in resp.kvs() {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            out.push((key, kv.value().to_vec(), kv.mod_revision()));
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                from = last.key().to_vec();
                from.push(0);
            }
            _ => return Ok((out, revision)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_end(b"/vulcand/"), b"/vulcand0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
