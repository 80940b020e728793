//! Per-worker upstream state: keep-alive pools and weighted round robin per endpoint.
//!
//! Owned by one worker thread, so no locks. State is rebuilt to line up with each new snapshot
//! but carried over by stable ids (upstream name, endpoint address): a config change that does
//! not touch an endpoint keeps its pooled connections and its place in the rotation.

mod balance;
mod health;
mod outlier;
mod state;

pub use balance::SmoothWrr;
pub use health::ActiveHealth;
pub use outlier::{EndpointHealth, Outlier};
pub use state::{Picked, Upstreams};
