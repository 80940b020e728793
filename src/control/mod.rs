//! The control plane: config sources, compiling snapshots and publishing them to the workers,
//! and the node's readiness. Runs on its own threads; nothing here touches data-path sockets.

pub mod cache;
pub mod checks;
pub mod etcd;
mod file;
mod health;
mod publish;
mod status;
mod store;

pub use file::{load_file, watch_file};
pub use health::serve_health;
pub use publish::{Publisher, SnapshotFeed};
pub use status::NodeStatus;
pub use store::{CacheDelta, Event, Kv, Rejection, Served, Store};
