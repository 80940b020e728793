//! The control plane: config sources, compiling snapshots and publishing them to the workers,
//! and the node's readiness. Runs on its own threads; nothing here touches data-path sockets.

mod file;
mod health;
mod publish;
mod status;

pub use file::{load_file, watch_file};
pub use health::serve_health;
pub use publish::Publisher;
pub use status::NodeStatus;
