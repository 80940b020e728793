//! The configuration model: plain data shared by every config source (TOML file, etcd).
//!
//! Owns hosts, locations, upstreams, endpoints and node settings, plus validation that names the
//! offending key. Never does I/O: sources hand it strings, it hands back entities or `KeyError`s.

mod build;
mod duration;
mod endpoint;
mod error;
mod host;
mod settings;
mod toml_file;

use std::collections::BTreeMap;
use std::net::SocketAddr;

pub use build::ModelBuilder;
pub use duration::parse_duration;
pub use endpoint::parse_endpoint_url;
pub use error::{ConfigError, KeyError};
pub use host::normalize_host;
pub use settings::{Limits, Listen, PoolSettings, Settings, ShutdownSettings, Timeouts};
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstream {
    pub endpoints: BTreeMap<String, Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub weight: u32,
}

/// The host name that matches any Host header no other host entry matches.
pub const CATCH_ALL_HOST: &str = "*";
