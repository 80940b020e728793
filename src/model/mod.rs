//! The configuration model: plain data shared by every config source (TOML file, etcd).
//!
//! Owns hosts, locations, upstreams, endpoints and node settings, plus validation that names the
//! offending key. Never does I/O: sources hand it strings, it hands back entities or `KeyError`s.

mod build;
mod duration;
mod endpoint;
mod error;
pub mod etcd_keys;
mod host;
mod options;
mod settings;
mod toml_file;

use std::collections::BTreeMap;
use std::net::SocketAddr;

pub use build::{validate_name, validate_path, validate_weight, ModelBuilder};
pub use duration::parse_duration;
pub use endpoint::parse_endpoint_url;
pub use error::{ConfigError, KeyError};
pub use host::normalize_host;
pub use options::{
    Balance, HealthCheckOptions, Options, OutlierOptions, PoolOptions, TimeoutOptions,
};
pub use settings::{
    parse_etcd_endpoint, parse_etcd_prefix, validate_admin_token, AccessLogSettings, AdminSettings,
    EtcdSettings, Limits, Listen, LogFormat, PoolSettings, SchedSettings, Settings,
    ShutdownSettings, Timeouts, DEFAULT_ADMIN,
};
pub use toml_file::{parse_toml, FileConfig};

/// The whole route table: what `router::compile` turns into a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    /// Keyed by normalized host name (lowercase, no port, no trailing dot); `*` is the catch-all.
    pub hosts: BTreeMap<String, Host>,
    pub upstreams: BTreeMap<String, Upstream>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    pub locations: BTreeMap<String, Location>,
}

/// A named location: requests whose path fully matches `path` (a regex) go to `upstream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub upstream: String,
    pub options: Options,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstream {
    pub endpoints: BTreeMap<String, Endpoint>,
    pub options: Options,
    /// A registrator-style service directory whose entries are endpoints too (etcd only).
    pub discovery: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub weight: u32,
}

/// The host name that matches any Host header no other host entry matches.
pub const CATCH_ALL_HOST: &str = "*";

/// Which entities a batch of config changes touched, so the router recompiles only those.
/// `all` forces a full compile (first load, re-read after a reconnect or compaction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub all: bool,
    /// Normalized host names whose locations changed (added, removed or edited).
    pub hosts: std::collections::BTreeSet<String>,
    /// Upstreams whose endpoints, options or existence changed.
    pub upstreams: std::collections::BTreeSet<String>,
}

impl ChangeSet {
    pub fn everything() -> Self {
        ChangeSet {
            all: true,
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.all && self.hosts.is_empty() && self.upstreams.is_empty()
    }

    pub fn merge(&mut self, other: ChangeSet) {
        self.all |= other.all;
        self.hosts.extend(other.hosts);
        self.upstreams.extend(other.upstreams);
    }
}
