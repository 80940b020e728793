//! One watch stream carrying one watcher per target (the prefix, each discovery directory),
//! each resuming from its own next revision. Receives a message, then drains every message
//! already queued, so a burst of writes reaches the compiler as one batch.
//!
//! Liveness: etcd 3.4 sends progress notifications only every 10 minutes, so after `IDLE`
//! without a message we ask for progress ourselves; no answer within `PROBE` means the member
//! is frozen or cut off, and the caller reconnects.

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, EventType, WatchOptions, WatchRequestSender, WatchResponse, WatchResponseStream,
};
use tokio::time::{timeout, timeout_at};

use super::client::{dir_key, MAX_MESSAGE, RPC_TIMEOUT};
use crate::control::store::Event;

/// Quiet time after which a progress request checks the member still answers.
const IDLE: Duration = Duration::from_secs(5);
/// How long an answer to that request may take.
const PROBE: Duration = Duration::from_secs(3);

/// A watched directory and the first revision not yet received for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub dir: String,
    pub next: i64,
}

/// Why a watch ended.
#[derive(Debug)]
pub(super) enum End {
    /// A watcher's start revision was compacted away: re-read everything.
    Compacted(i64),
    /// The stream or the member failed: reconnect and resume.
    Failed(String),
}

/// Events received together, and when the first of them arrived.
pub(super) struct Batch {
    pub events: Vec<Event>,
    pub first_at: Instant,
    pub messages: usize,
}

pub(super) struct Watch {
    tx: WatchRequestSender,
    rx: WatchResponseStream,
    last_heard: Instant,
    probe_sent: Option<Instant>,
}

impl Watch {
    /// Opens one stream with a watcher per target; watcher `i` has watch id `i + 1`.
    pub async fn open(client: &Client, targets: &[Target]) -> Result<Watch, String> {
        let opts = |i: usize, t: &Target| {
            WatchOptions::new()
                .with_prefix()
                .with_start_revision(t.next)
                .with_progress_notify()
                .with_watch_id(i as i64 + 1)
        };
        let first = targets.first().ok_or("nothing to watch")?;
        let mut wc = client.watch_client().max_decoding_message_size(MAX_MESSAGE);
        let stream = match timeout(
            RPC_TIMEOUT,
            wc.watch(dir_key(&first.dir), Some(opts(0, first))),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("watch: {e}")),
            Err(_) => return Err("watch: timed out".into()),
        };
        let (mut tx, rx) = stream.split();
        for (i, t) in targets.iter().enumerate().skip(1) {
            match timeout(RPC_TIMEOUT, tx.watch(dir_key(&t.dir), Some(opts(i, t)))).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("watch {}: {e}", t.dir)),
                Err(_) => return Err(format!("watch {}: timed out", t.dir)),
            }
        }
        Ok(Watch {
            tx,
            rx,
            last_heard: Instant::now(),
            probe_sent: None,
        })
    }

    /// The next batch of events, or `None` once `deadline` passes without one. Advances each
    /// target's `next` past what it received.
    pub async fn recv(
        &mut self,
        targets: &mut [Target],
        deadline: Instant,
    ) -> Result<Option<Batch>, End> {
        loop {
            let check_at = match self.probe_sent {
                Some(sent) => sent + PROBE,
                None => self.last_heard + IDLE,
            };
            match timeout_at(deadline.min(check_at).into(), self.rx.message()).await {
                Ok(msg) => {
                    let first_at = Instant::now();
                    let mut batch = Batch {
                        events: Vec::new(),
                        first_at,
                        messages: 1,
                    };
                    self.heard(first_at);
                    take(message(msg)?, targets, &mut batch.events)?;
                    self.drain(targets, &mut batch).await?;
                    if !batch.events.is_empty() {
                        return Ok(Some(batch));
                    }
                }
                Err(_) if Instant::now() >= deadline => return Ok(None),
                Err(_) => self.check_liveness().await?,
            }
        }
    }

    fn heard(&mut self, at: Instant) {
        self.last_heard = at;
        self.probe_sent = None;
    }

    async fn check_liveness(&mut self) -> Result<(), End> {
        if self.probe_sent.is_some() {
            return Err(End::Failed(format!(
                "no answer to a progress request within {PROBE:?}"
            )));
        }
        match timeout(PROBE, self.tx.request_progress()).await {
            Ok(Ok(())) => {
                self.probe_sent = Some(Instant::now());
                Ok(())
            }
            Ok(Err(e)) => Err(End::Failed(format!("progress request: {e}"))),
            Err(_) => Err(End::Failed("progress request: timed out".into())),
        }
    }

    /// Takes every message that is already here: yields first so the connection task reads
    /// what the socket holds, and stops when a round finds nothing new.
    async fn drain(&mut self, targets: &mut [Target], batch: &mut Batch) -> Result<(), End> {
        loop {
            tokio::task::yield_now().await;
            let mut got = false;
            while let Some(msg) = poll_once(self.rx.message()).await {
                got = true;
                batch.messages += 1;
                take(message(msg)?, targets, &mut batch.events)?;
            }
            if !got {
                return Ok(());
            }
        }
    }
}

type Received = Result<Option<WatchResponse>, etcd_client::Error>;

fn message(msg: Received) -> Result<WatchResponse, End> {
    match msg {
        Ok(Some(resp)) => Ok(resp),
        Ok(None) => Err(End::Failed("watch stream closed".into())),
        Err(e) => Err(End::Failed(format!("watch: {e}"))),
    }
}

/// Applies one response to the targets and collects its events.
fn take(resp: WatchResponse, targets: &mut [Target], out: &mut Vec<Event>) -> Result<(), End> {
    if resp.canceled() {
        if resp.compact_revision() > 0 {
            return Err(End::Compacted(resp.compact_revision()));
        }
        return Err(End::Failed(format!(
            "watch cancelled by etcd: {}",
            resp.cancel_reason()
        )));
    }
    // -1: the answer to our progress request (liveness only: etcd 3.4 may send it ahead of
    // events a lagging watcher has not delivered yet, so its revision proves nothing).
    let Some(target) = usize::try_from(resp.watch_id() - 1)
        .ok()
        .and_then(|i| targets.get_mut(i))
    else {
        if resp.created() {
            // Our ids are 1..=n; another id would leave a target's events unrecognised.
            return Err(End::Failed(format!(
                "etcd assigned watch id {} instead of ours",
                resp.watch_id()
            )));
        }
        return Ok(());
    };
    if resp.created() {
        return Ok(());
    }
    let events = resp.events();
    if events.is_empty() {
        // A watcher's own progress notification: sent only once it is in sync, so everything
        // up to the header's revision has been delivered.
        if let Some(h) = resp.header() {
            target.next = target.next.max(h.revision() + 1);
        }
        return Ok(());
    }
    for ev in events {
        let Some(kv) = ev.kv() else { continue };
        let value = match ev.event_type() {
            EventType::Put => Some(kv.value().to_vec()),
            EventType::Delete => None,
        };
        target.next = target.next.max(kv.mod_revision() + 1);
        out.push(Event {
            key: String::from_utf8_lossy(kv.key()).into_owned(),
            value,
            mod_revision: kv.mod_revision(),
        });
    }
    Ok(())
}

/// Polls `f` once: its output if it is ready now, else `None` (`f` must be cancel-safe).
async fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        Poll::Ready(match f.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}
