//! Vane: a thread-per-core io_uring HTTP/1.1 edge proxy, routed from a TOML file or etcd.
pub mod accesslog;
pub mod admin;
pub mod cli;
pub mod control;
pub mod itoa;
pub mod metrics;
pub mod model;
pub mod proxy;
pub mod router;
pub mod sched;
pub mod upstream;
pub mod worker;
