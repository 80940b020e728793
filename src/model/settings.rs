use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The admin API's default address: loopback, on vulcand's API port.
pub const DEFAULT_ADMIN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8182);

/// Node settings: everything in the file that is not a route. Timeouts and limits are carried in
/// each snapshot and apply live; `listen` and `workers` are read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: Listen,
    /// Worker threads; `None` means one per core.
    pub workers: Option<usize>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub pool: PoolSettings,
    pub shutdown: ShutdownSettings,
    /// Where routes come from when `etcd.endpoints` is not empty; read once at start.
    pub etcd: EtcdSettings,
    /// The admin API's credentials; read once at start.
    pub admin: AdminSettings,
    /// `[access_log]`; `None`: off. Read once at start.
    pub access_log: Option<AccessLogSettings>,
    /// `[metrics] enabled`: per-worker request metrics (on by default). Read once at start.
    pub metrics: bool,
    /// `[scheduler]`: the threads' time slices; read once at start.
    pub scheduler: SchedSettings,
}

/// Time slices asked of the kernel's scheduler (see `crate::sched`); zero keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedSettings {
    pub worker_slice: Duration,
    pub control_slice: Duration,
}

impl Default for SchedSettings {
    fn default() -> Self {
        SchedSettings {
            worker_slice: Duration::from_micros(300),
            control_slice: Duration::from_micros(100),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogSettings {
    /// `None`: standard output.
    pub path: Option<PathBuf>,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Apache/nginx "combined".
    Combined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub http: SocketAddr,
    /// Serves only the health answer, for a load balancer's checks.
    pub health: Option<SocketAddr>,
    /// The admin API (`None`: turned off with `admin = "off"`).
    pub admin: Option<SocketAddr>,
}

/// `[admin]`: the bearer token the admin API requires (it is required whenever the API
/// listens on a non-loopback address). `$VANE_ADMIN_TOKEN` overrides both.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdminSettings {
    pub token: Option<String>,
    /// A file whose content (surrounding whitespace removed) is the token.
    pub token_file: Option<PathBuf>,
}

impl std::fmt::Debug for AdminSettings {
    // The token must never reach a log line through a `{:?}` of the settings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .finish()
    }
}

/// A bearer token: 16 to 4096 visible ASCII characters (RFC 6750 allows no spaces in it).
pub fn validate_admin_token(token: &str) -> Result<(), String> {
    if token.len() < 16 || token.len() > 4096 {
        return Err("the admin token must be 16 to 4096 characters long".into());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the admin token must be visible ASCII without spaces".into());
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect to an endpoint (→ 502 when it expires).
    pub connect: Duration,
    /// From request sent to the upstream's response head (→ 504).
    pub response_header: Duration,
    /// The whole request head, from its first byte (→ 408, slowloris).
    pub request_head: Duration,
    /// An idle client keep-alive connection; longer than an ELB's 60 s so the ELB closes first.
    pub keepalive_idle: Duration,
    /// Longest pause inside a request or response body.
    pub body_idle: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_header_lines: usize,
    pub max_request_line: usize,
    pub max_body: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_idle_per_endpoint: usize,
    pub idle_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownSettings {
    /// After SIGTERM, how long health answers 503 before the listeners close (lets an ELB notice).
    pub drain_delay: Duration,
    /// After the listeners close, how long in-flight requests get before the process exits.
    pub grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: Listen {
                http: SocketAddr::from(([0, 0, 0, 0], 80)),
                health: None,
                admin: Some(DEFAULT_ADMIN),
            },
            workers: None,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            pool: PoolSettings::default(),
            shutdown: ShutdownSettings::default(),
            etcd: EtcdSettings::default(),
            admin: AdminSettings::default(),
            access_log: None,
            metrics: true,
            scheduler: SchedSettings::default(),
        }
    }
}

/// The etcd source (`[etcd]` in the file, `--etcd`, `--etcd-prefix`, `--state-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdSettings {
    /// `http://host:port` client URLs of the members; empty: routes come from the file.
    pub endpoints: Vec<String>,
    /// The key prefix of the route layout, without a trailing slash (`/vulcand`).
    pub prefix: String,
    /// The last applied keys (`etcd-routes.json`) and `status.json` are kept here.
    pub state_dir: PathBuf,
}

impl EtcdSettings {
    pub fn enabled(&self) -> bool {
        !self.endpoints.is_empty()
    }
}

impl Default for EtcdSettings {
    fn default() -> Self {
        EtcdSettings {
            endpoints: Vec::new(),
            prefix: "/vulcand".into(),
            state_dir: PathBuf::from("/var/lib/vane"),
        }
    }
}

/// An etcd client URL as the etcd source accepts it: `http://host:port` (a bare `host:port`
/// gets `http://`). TLS is not supported yet.
pub fn parse_etcd_endpoint(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "`{url}`: scheme {scheme} is not supported (use http://host:port)"
            ))
        }
        None => url,
    };
    let valid = rest.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if valid {
        Ok(format!("http://{rest}"))
    } else {
        Err(format!(
            "`{url}` is not an etcd client URL such as http://127.0.0.1:2379"
        ))
    }
}

/// A key prefix: absolute, no trailing slash (`/` alone means the whole keyspace: `""`).
pub fn parse_etcd_prefix(prefix: &str) -> Result<String, String> {
    let p = prefix.trim();
    if !p.starts_with('/') || p.contains("//") {
        return Err(format!("`{p}` is not a key prefix such as /vulcand"));
    }
    Ok(p.trim_end_matches('/').to_string())
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response_header: Duration::from_secs(60),
            request_head: Duration::from_secs(60),
            keepalive_idle: Duration::from_secs(75),
            body_idle: Duration::from_secs(60),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_header_lines: 100,
            max_request_line: 8 * 1024,
            max_body: None,
        }
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_idle_per_endpoint: 128,
            idle_timeout: Duration::from_secs(50),
        }
    }
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings {
            drain_delay: Duration::ZERO,
            grace: Duration::from_secs(30),
        }
    }
}
