//! `?wait=DURATION` on a write: answer once every worker serves the write's revision (or when
//! the wait is up), so a client's next request already meets the change.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::http::Request;
use super::{ApiError, RouteSourceInfo, Shared};
use crate::model::parse_duration;

/// Longest wait a client may ask for (the handler's own limit is above it).
const MAX_WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);

/// The `wait` query parameter, capped at `MAX_WAIT`.
pub(super) fn requested(req: &Request) -> Result<Option<Duration>, ApiError> {
    let Some(v) = req.param("wait")? else {
        return Ok(None);
    };
    let d = parse_duration(&v).map_err(|e| ApiError::bad_request(format!("wait: {e}")))?;
    Ok(Some(d.min(MAX_WAIT)))
}

/// Whether every running worker serves etcd revision `revision` (or later) within `limit`.
pub(super) async fn until_served(s: &Shared, revision: i64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if served(s, revision) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The etcd source has applied `revision` (its status is written only after the workers were
/// sent that snapshot), and every worker acknowledged the generation it published. A write that
/// changed nothing Vane reads publishes nothing, so the generation alone would never move.
fn served(s: &Shared, revision: i64) -> bool {
    let RouteSourceInfo::Etcd { status, .. } = &s.ctx.source else {
        return false;
    };
    let (rev, generation) = {
        let doc = status.lock().unwrap_or_else(|p| p.into_inner());
        (doc.revision, doc.generation)
    };
    rev >= revision
        && s.ctx.links.iter().all(|l| {
            l.status.exited.load(Ordering::Acquire)
                || l.status.generation.load(Ordering::Acquire) >= generation
        })
}
