//! `vane`: starts the workers on the configured listener, watches the config, and runs the
//! SIGTERM drain. SIGINT exits at once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use signal_hook::consts::{SIGINT, SIGTERM};
use vane::accesslog::{spawn_writer, LogSink};
use vane::admin::{AdminContext, AdminListener, RouteSourceInfo};
use vane::control::checks::spawn_checker;
use vane::control::etcd::{spawn_etcd_source, EtcdSourceConfig};
use vane::control::{load_file, serve_health, watch_file, NodeStatus, Publisher};
use vane::model::{parse_etcd_endpoint, parse_etcd_prefix, parse_toml, ChangeSet, FileConfig};
use vane::router::{Compiler, Snapshot};
use vane::worker::{bind_listeners, spawn_workers};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The embedded default: `vane` with no `--config` runs on this.
const DEFAULT_CONFIG: &str = include_str!("../config/vane.toml");

const USAGE: &str =
    "usage: vane [--config FILE] [--workers N] [--listen IP:PORT] [--health IP:PORT]
            [--admin IP:PORT|off] [--etcd URL[,URL...]] [--etcd-prefix PREFIX]
            [--state-dir DIR] [--check]

  --config FILE        TOML config (default: the embedded config/vane.toml); edits apply live
  --workers N          worker threads, one per core when omitted or 0
  --listen IP:PORT     overrides [listen] http
  --health IP:PORT     overrides [listen] health (the load balancer's health check)
  --admin IP:PORT|off  overrides [listen] admin (the admin API, default 127.0.0.1:8182);
                       a non-loopback address needs a token ($VANE_ADMIN_TOKEN or [admin])
  --etcd URLS          routes come from etcd at these members (overrides [etcd] endpoints);
                       the file then supplies only the node's settings
  --etcd-prefix P      key prefix of the routes (default /vulcand)
  --state-dir DIR      where the route cache and status.json live (default /var/lib/vane)
  --check              validate the config and exit
";

#[derive(Default)]
struct Args {
    config: Option<PathBuf>,
    workers: Option<usize>,
    listen: Option<std::net::SocketAddr>,
    health: Option<std::net::SocketAddr>,
    admin: Option<Option<std::net::SocketAddr>>,
    etcd: Option<Vec<String>>,
    etcd_prefix: Option<String>,
    state_dir: Option<PathBuf>,
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
            "--admin" => {
                a.admin = Some(match val("--admin")?.as_str() {
                    "off" => None,
                    v => Some(v.parse().context("--admin: expected IP:PORT or off")?),
                })
            }
            "--etcd" => {
                let urls = val("--etcd")?;
                let eps = urls
                    .split(',')
                    .filter(|u| !u.trim().is_empty())
                    .map(parse_etcd_endpoint)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| anyhow::anyhow!("--etcd: {e}"))?;
                if eps.is_empty() {
                    bail!("--etcd needs at least one URL\n{USAGE}");
                }
                a.etcd = Some(eps);
            }
            "--etcd-prefix" => {
                let p = parse_etcd_prefix(&val("--etcd-prefix")?)
                    .map_err(|e| anyhow::anyhow!("--etcd-prefix: {e}"))?;
                a.etcd_prefix = Some(p);
            }
            "--state-dir" => a.state_dir = Some(val("--state-dir")?.into()),
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
        if cfg.settings.etcd.enabled() || args.etcd.is_some() {
            println!("config ok: routes come from etcd");
            return Ok(());
        }
        println!(
            "config ok: {} host(s), {} upstream(s)",
            cfg.model.hosts.len(),
            cfg.model.upstreams.len()
        );
        return Ok(());
    }
    apply_overrides(&mut cfg, &args);
    let settings = Arc::new(cfg.settings.clone());
    // Bound before anything starts, so a bad admin config (or a busy port) stops us here.
    let admin = match settings.listen.admin {
        Some(addr) => Some(vane::admin::bind(addr, &settings.admin)?),
        None => None,
    };
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
    let etcd = settings.etcd.enabled();
    // With etcd, the workers answer 503 until the etcd source (or its cache) has routes.
    let mut compiler = Compiler::new();
    let snap = Arc::new(if etcd {
        Snapshot::not_ready(settings.clone(), 1)
    } else {
        compiler.compile(&cfg.model, &ChangeSet::everything(), settings.clone(), 1, 0)
    });
    let log = match &settings.access_log {
        Some(a) => Some(spawn_writer(a).with_context(|| {
            format!(
                "access log {}",
                a.path
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string())
            )
        })?),
        None => None,
    };
    let threads = spawn_workers(listeners, snap.clone(), log.clone())?;
    let publisher = Publisher::new(threads.links.clone(), 1).with_compiler(compiler, snap);
    // Follows whatever the file or etcd source publishes, so one checker serves both modes.
    let checks = spawn_checker(publisher.subscribe(), threads.links.clone())
        .context("active health checker")?;
    let publisher = Arc::new(Mutex::new(publisher));
    wait_for_workers(&threads.links, Duration::from_secs(10));
    let source = if etcd {
        if !cfg.model.hosts.is_empty() || !cfg.model.upstreams.is_empty() {
            tracing::warn!(target: "vane", "etcd is configured: the routes in the config file are ignored");
        }
        let src = spawn_etcd_source(EtcdSourceConfig {
            settings: settings.clone(),
            config_file: args.config.clone(),
            publisher: publisher.clone(),
            node: status.clone(),
            generation: 1,
        })?;
        tracing::info!(target: "vane", endpoints = ?settings.etcd.endpoints, prefix = %settings.etcd.prefix, "routes come from etcd");
        RouteSourceInfo::Etcd {
            settings: settings.etcd.clone(),
            status: src.status,
        }
    } else {
        if let Some(path) = &args.config {
            watch_file(path.clone(), cfg.clone(), publisher.clone())?;
        }
        status.set_ready();
        RouteSourceInfo::File(args.config.clone())
    };
    if let Some(admin) = admin {
        let live = publisher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .subscribe();
        start_admin(admin, source, live, checks, &threads.links, &status)?;
    }
    tracing::info!(target: "vane", workers, "listening on http://{bound}/");
    wait_for_signal(&status, &settings, &publisher, &threads.links, log.as_ref())
}

fn start_admin(
    admin: AdminListener,
    source: RouteSourceInfo,
    live: vane::control::SnapshotFeed,
    checks: vane::control::checks::CheckView,
    links: &[vane::worker::WorkerLink],
    node: &Arc<NodeStatus>,
) -> anyhow::Result<()> {
    let addr = admin.local_addr()?;
    let auth = if admin.has_token() {
        "bearer token"
    } else {
        "no token (loopback)"
    };
    admin.serve(AdminContext {
        source,
        live,
        links: links.to_vec(),
        node: node.clone(),
        checks,
    })?;
    tracing::info!(target: "vane", auth, "admin API on http://{addr}/v1/status");
    Ok(())
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
    if let Some(a) = args.admin {
        cfg.settings.listen.admin = a;
    }
    if let Some(e) = &args.etcd {
        cfg.settings.etcd.endpoints = e.clone();
    }
    if let Some(p) = &args.etcd_prefix {
        cfg.settings.etcd.prefix = p.clone();
    }
    if let Some(d) = &args.state_dir {
        cfg.settings.etcd.state_dir = d.clone();
    }
}

fn wait_for_signal(
    status: &NodeStatus,
    settings: &vane::model::Settings,
    publisher: &Mutex<Publisher>,
    links: &[vane::worker::WorkerLink],
    log: Option<&LogSink>,
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
    if let Some(log) = log {
        log.wait_written(Duration::from_secs(1));
    }
    tracing::info!(target: "vane", "drained, exiting");
    std::process::exit(0)
}
