//! The data plane's threads: one monoio runtime per core, pinned, each with its own
//! SO_REUSEPORT listener, accept loop and connection tasks. Never imports tokio, etcd or the
//! control plane: snapshots arrive on a crossbeam channel, rung in by a doorbell.

mod ack;
mod doorbell;
mod guard;
mod link;
mod listener;
mod run;

pub use ack::{acked_at, park_until_acked};
pub use doorbell::Doorbell;
pub use link::{WorkerLink, WorkerMsg, WorkerStatus};
pub use listener::{bind_listeners, ListenError};
pub use run::{spawn_workers, WorkerThreads};
