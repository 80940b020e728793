//! vanectl's command line (clap derive: every command and subcommand gets `--help`).

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "Exit codes: 0 ok; 1 the API answered an error (not found, bad input, \
conflict) or a write was not served in time; 2 usage; 3 the admin API cannot be reached.";

#[derive(Debug, Parser)]
#[command(
    name = "vanectl",
    version,
    about = "Inspect and change a running Vane through its admin API",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// The admin API's URL.
    #[arg(
        long,
        env = "VANE_ADMIN",
        default_value = "http://127.0.0.1:8182",
        global = true
    )]
    pub admin: String,
    /// Bearer token for the admin API.
    #[arg(long, env = "VANE_ADMIN_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// After a write, wait this long for every worker to serve it ("0" = do not wait).
    #[arg(long, default_value = "10s", global = true, value_name = "DURATION")]
    pub wait: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Version, uptime, route source and its freshness, workers, rejected etcd keys.
    Status,
    /// Hosts that have locations.
    #[command(subcommand)]
    Host(HostCmd),
    /// Locations: a host's path regexes and the upstream each sends to.
    #[command(subcommand)]
    Location(LocationCmd),
    /// Upstreams: named groups of endpoints.
    #[command(subcommand)]
    Upstream(UpstreamCmd),
    /// Endpoints of an upstream, with their health.
    #[command(subcommand)]
    Endpoint(EndpointCmd),
    /// Where a request would be routed, and why.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Blue-green switches of a location's upstream, and rolling them back.
    #[command(subcommand)]
    Deploy(DeployCmd),
    /// Live request rates, error rates and latencies per location and endpoint.
    Top(TopArgs),
}

#[derive(Debug, Subcommand)]
pub enum HostCmd {
    /// List hosts.
    Ls,
}

#[derive(Debug, Subcommand)]
pub enum LocationCmd {
    /// List locations (of one host, or of all), in the order they are tried.
    Ls {
        #[arg(long)]
        host: Option<String>,
    },
    /// Create or replace a location (etcd only).
    Set {
        #[arg(long)]
        host: String,
        #[arg(long)]
        location: String,
        /// A regex on the whole request path, e.g. '/api/.*'.
        #[arg(long)]
        path: String,
        #[arg(long)]
        upstream: String,
        /// Options JSON, e.g. '{"timeouts": {"connect": "2s"}}'.
        #[arg(long)]
        options: Option<String>,
    },
    /// Remove a location (etcd only).
    Rm {
        #[arg(long)]
        host: String,
        #[arg(long)]
        location: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UpstreamCmd {
    /// List upstreams.
    Ls,
    /// Create an upstream (or replace its options) (etcd only).
    Add {
        name: String,
        /// Options JSON, e.g. '{"lb": "round_robin"}'.
        #[arg(long)]
        options: Option<String>,
    },
    /// Remove an upstream and its endpoints; refused while a location uses it (etcd only).
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum EndpointCmd {
    /// List an upstream's endpoints with their health.
    Ls {
        #[arg(long)]
        upstream: String,
    },
    /// Add or replace an endpoint (etcd only).
    Add {
        #[arg(long)]
        upstream: String,
        #[arg(long)]
        id: String,
        /// http://ip:port
        #[arg(long)]
        url: String,
        /// 1 to 10000 (default 1).
        #[arg(long)]
        weight: Option<u32>,
    },
    /// Remove an endpoint (etcd only).
    Rm {
        #[arg(long)]
        upstream: String,
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RouteCmd {
    /// Show which location a request for HOST and PATH reaches, and why.
    Test {
        #[arg(long)]
        host: String,
        #[arg(long)]
        path: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeployCmd {
    /// Point a location at another upstream, remembering the previous one (etcd only).
    Switch {
        #[arg(long)]
        host: String,
        #[arg(long)]
        location: String,
        /// The upstream to send traffic to.
        #[arg(long)]
        to: String,
    },
    /// Point a location back at the upstream it had before the last switch (etcd only).
    Rollback {
        #[arg(long)]
        host: String,
        #[arg(long)]
        location: String,
    },
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Time between refreshes.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub interval: String,
    /// Stop after this many refreshes (default: until interrupted).
    #[arg(long)]
    pub count: Option<u64>,
    /// Rows per table (the busiest first).
    #[arg(long, default_value_t = 20)]
    pub rows: usize,
}
