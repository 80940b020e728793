//! `vane`: starts the workers on the configured listener, watches the config, and runs the
//! SIGTERM drain. SIGINT exits at once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use signal_hook::consts::{SIGINT, SIGTERM};
use vane::control::{load_file, serve_health, watch_file, NodeStatus, Publisher};
use vane::model::{parse_toml, FileConfig};
use vane::router::compile;
use vane::worker::{bind_listeners, spawn_workers};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The embedded default: `vane` with no `--config` runs on this.
const DEFAULT_CONFIG: &str = include_str!("../config/vane.toml");

const USAGE: &str =
    "usage: vane [--config FILE] [--workers N] [--listen IP:PORT] [--health IP:PORT] [--check]

  --config FILE     TOML config (default: the embedded config/vane.toml); edits apply live
  --workers N       worker threads, one per core when omitted or 0
  --listen IP:PORT  overrides [listen] http
  --health IP:PORT  overrides [listen] health (the load balancer's health check)
  --check           validate the config and exit
";

#[derive(Default)]
struct Args {
    config: Option<PathBuf>,
    workers: Option<usize>,
    listen: Option<std::net::SocketAddr>,
    health: Option<std::net::SocketAddr>,
    check: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--config" | "-c" => a.config = Some(val("--config")?.into()),
            "--workers" => {
                a.workers = Some(
                    val("--workers")?
                        .parse()
                        .context("--workers: not a number")?,
                )
            }
            "--listen" => {
                a.listen = Some(
                    val("--listen")?
                        .parse()
                        .context("--listen: expected IP:PORT")?,
                )
            }
            "--health" => {
                a.health = Some(
                    val("--health")?
                        .parse()
                        .context("--health: expected IP:PORT")?,
                )
            }
            "--check" => a.check = true,
            "--version" | "-V" => {
                println!("vane {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(a)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VANE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run() {
        eprintln!("vane: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut cfg: FileConfig = match &args.config {
        Some(path) => load_file(path)?,
        None => parse_toml(DEFAULT_CONFIG).context("embedded default config")?,
    };
    if args.check {
        println!(
            "config ok: {} host(s), {} upstream(s)",
            cfg.model.hosts.len(),
            cfg.model.upstreams.len()
        );
        return Ok(());
    }
    apply_overrides(&mut cfg, &args);
    let settings = Arc::new(cfg.settings.clone());
    let workers = settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let listeners = bind_listeners(settings.listen.http, workers)?;
    let bound = listeners[0].local_addr()?;
    let status = Arc::new(NodeStatus::default());
    if let Some(addr) = settings.listen.health {
        let h = serve_health(addr, status.clone())
            .with_context(|| format!("health listener {addr}"))?;
        tracing::info!(target: "vane", "health check on http://{h}/");
    }
    let snap = Arc::new(compile(&cfg.model, settings.clone(), 1, 0));
    let threads = spawn_workers(listeners, snap)?;
    let publisher = Arc::new(Mutex::new(Publisher::new(threads.links.clone(), 1)));
    if let Some(path) = &args.config {
        watch_file(path.clone(), cfg.clone(), publisher.clone())?;
    }
    wait_for_workers(&threads.links, Duration::from_secs(10));
    status.set_ready();
    tracing::info!(target: "vane", workers, "listening on http://{bound}/");
    wait_for_signal(&status, &settings, &publisher, &threads.links)
}

/// Health turns 200 only once every worker runs and has acknowledged its first snapshot.
fn wait_for_workers(links: &[vane::worker::WorkerLink], limit: Duration) {
    let deadline = Instant::now() + limit;
    let up = |l: &vane::worker::WorkerLink| {
        l.status
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
            > 0
    };
    while !links.iter().all(up) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn apply_overrides(cfg: &mut FileConfig, args: &Args) {
    if let Some(w) = args.workers {
        cfg.settings.workers = (w > 0).then_some(w);
    }
    if let Some(l) = args.listen {
        cfg.settings.listen.http = l;
    }
    if let Some(h) = args.health {
        cfg.settings.listen.health = Some(h);
    }
}

fn wait_for_signal(
    status: &NodeStatus,
    settings: &vane::model::Settings,
    publisher: &Mutex<Publisher>,
    links: &[vane::worker::WorkerLink],
) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    let first = signals.forever().next();
    if first == Some(SIGINT) {
        tracing::info!(target: "vane", "SIGINT: exiting now");
        std::process::exit(130);
    }
    // SIGTERM: health turns 503 first so the load balancer stops sending, then we drain.
    status.set_draining();
    tracing::info!(target: "vane", delay = ?settings.shutdown.drain_delay, "SIGTERM: draining");
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            std::process::exit(130);
        }
    });
    std::thread::sleep(settings.shutdown.drain_delay);
    if let Ok(p) = publisher.lock() {
        p.drain();
    }
    let deadline = Instant::now() + settings.shutdown.grace;
    while Instant::now() < deadline
        && !links
            .iter()
            .all(|l| l.status.exited.load(std::sync::atomic::Ordering::Acquire))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::info!(target: "vane", "drained, exiting");
    std::process::exit(0)
}
