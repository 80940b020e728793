use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use monoio::net::TcpListener;

use super::guard::CatchUnwind;
use super::{Doorbell, WorkerLink, WorkerMsg, WorkerStatus};
use crate::accesslog::LogSink;
use crate::proxy::{serve, WorkerCtx};
use crate::router::Snapshot;

/// How often idle pooled upstream connections are checked for expiry.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
const URING_ENTRIES: u32 = 1024;
/// How long an access log line may wait in a worker's buffer.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(200);

pub struct WorkerThreads {
    pub links: Vec<WorkerLink>,
    pub handles: Vec<JoinHandle<()>>,
}

/// Starts one pinned worker thread per listener.
pub fn spawn_workers(
    listeners: Vec<std::net::TcpListener>,
    snap: Arc<Snapshot>,
    log: Option<LogSink>,
) -> std::io::Result<WorkerThreads> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut links = Vec::new();
    let mut handles = Vec::new();
    for (id, listener) in listeners.into_iter().enumerate() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let link = WorkerLink {
            tx,
            bell: Doorbell::default(),
            status: Arc::new(WorkerStatus::default()),
        };
        let core = cores.get(id % cores.len().max(1)).copied();
        let (bell, status, snap) = (link.bell.clone(), link.status.clone(), snap.clone());
        let slice = snap.settings.scheduler.worker_slice;
        let log = log.clone();
        let h = std::thread::Builder::new()
            .name(format!("vane-worker-{id}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                // A worker woken by a new snapshot should not wait out a busy neighbour's slice.
                crate::sched::request_slice_or_log(slice, "vane-worker");
                run_worker(id, listener, snap, rx, bell, status.clone(), log);
                status.exited.store(true, Ordering::Release);
            })?;
        links.push(link);
        handles.push(h);
    }
    Ok(WorkerThreads { links, handles })
}

fn run_worker(
    id: usize,
    listener: std::net::TcpListener,
    snap: Arc<Snapshot>,
    rx: Receiver<WorkerMsg>,
    bell: Doorbell,
    status: Arc<WorkerStatus>,
    log: Option<LogSink>,
) {
    let mut rt = match build_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "vane::worker", worker = id, "cannot start runtime: {e}");
            return;
        }
    };
    let driver = match rt {
        monoio::FusionRuntime::Uring(_) => "io_uring",
        monoio::FusionRuntime::Legacy(_) => "epoll",
    };
    let _ = status.driver.set(driver);
    tracing::info!(target: "vane::worker", worker = id, driver, "worker started");
    rt.block_on(async move {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(target: "vane::worker", worker = id, "cannot adopt listener: {e}");
                return;
            }
        };
        status.ack(&snap);
        let ctx = WorkerCtx::new(id, port, snap, log.as_ref());
        monoio::spawn(receive_config(ctx.clone(), rx, bell, status.clone()));
        monoio::spawn(sweep_pools(ctx.clone()));
        if ctx.log.is_some() {
            monoio::spawn(flush_log(ctx.clone()));
        }
        accept_loop(&ctx, &listener, &status).await;
        drop(listener);
        // Draining: in-flight requests finish (their responses say `Connection: close`).
        while ctx.active.get() > 0 {
            monoio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(log) = &ctx.log {
            log.flush();
        }
        tracing::info!(target: "vane::worker", worker = id, "worker drained");
    });
}

type Runtime = monoio::FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// io_uring with `DEFER_TASKRUN | SINGLE_ISSUER` (kernel 6.1+): completions are processed in a
/// batch when the worker parks, instead of interrupting it with task-work IPIs — in a VM each
/// one is an exit. Safe because monoio always parks with GETEVENTS and each ring has one thread.
/// Older kernels refuse the flags; then the plain setup (and, failing io_uring, epoll) is used.
fn build_runtime() -> std::io::Result<Runtime> {
    let mut urb = io_uring::IoUring::builder();
    urb.setup_single_issuer().setup_defer_taskrun();
    let tuned = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .with_entries(URING_ENTRIES)
        .uring_builder(urb)
        .enable_timer()
        .build();
    tuned.or_else(|_| {
        monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .with_entries(URING_ENTRIES)
            .enable_timer()
            .build()
    })
}

async fn accept_loop(ctx: &Rc<WorkerCtx>, listener: &TcpListener, status: &WorkerStatus) {
    loop {
        match listener.cancelable_accept(ctx.cancel_handle()).await {
            Ok((stream, peer)) => {
                monoio::spawn(CatchUnwind(serve(ctx.clone(), stream, peer)));
            }
            Err(_) if ctx.draining.get() => return,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(target: "vane::worker", worker = ctx.id, "accept failed: {e}");
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        status
            .connections
            .store(ctx.active.get(), Ordering::Relaxed);
    }
}

/// Applies every queued message each time the doorbell rings; the latest snapshot wins.
async fn receive_config(
    ctx: Rc<WorkerCtx>,
    rx: Receiver<WorkerMsg>,
    bell: Doorbell,
    status: Arc<WorkerStatus>,
) {
    loop {
        bell.wait().await;
        let mut latest = None;
        while let Ok(msg) = rx.try_recv() {
            match msg {
                WorkerMsg::Snapshot(s) => latest = Some(s),
                WorkerMsg::Health(h) => ctx.upstreams.borrow_mut().set_health(h),
                WorkerMsg::Scrape(reply) => {
                    let _ = reply.send(ctx.report());
                }
                WorkerMsg::Drain => ctx.start_drain(),
            }
        }
        if let Some(snap) = latest {
            ctx.install(snap.clone());
            status.ack(&snap);
        }
    }
}

/// Hands buffered access log lines to the writer, so a quiet worker's lines are not held back.
async fn flush_log(ctx: Rc<WorkerCtx>) {
    loop {
        monoio::time::sleep(LOG_FLUSH_EVERY).await;
        if let Some(log) = &ctx.log {
            log.flush();
        }
    }
}

async fn sweep_pools(ctx: Rc<WorkerCtx>) {
    loop {
        monoio::time::sleep(SWEEP_EVERY).await;
        let idle = ctx.snapshot().settings.pool.idle_timeout;
        ctx.upstreams.borrow_mut().sweep(idle, Instant::now());
    }
}
