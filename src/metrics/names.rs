//! Every metric name in one place (what dashboards depend on).

pub const REQUESTS: &str = "vane_requests_total";
pub const REQUEST_DURATION: &str = "vane_request_duration_seconds";
pub const UNROUTED: &str = "vane_unrouted_requests_total";
pub const ENDPOINT_REQUESTS: &str = "vane_endpoint_requests_total";
pub const ENDPOINT_FAILURES: &str = "vane_endpoint_failures_total";
pub const ENDPOINT_DURATION: &str = "vane_endpoint_duration_seconds";
pub const ENDPOINT_CONNECTIONS: &str = "vane_endpoint_connections_total";
pub const ENDPOINT_EJECTED: &str = "vane_endpoint_ejected_workers";
pub const ENDPOINT_EJECTIONS: &str = "vane_endpoint_ejections_total";
pub const UPSTREAM_ERRORS: &str = "vane_upstream_errors_total";
pub const UPSTREAM_RETRIES: &str = "vane_upstream_retries_total";
pub const POOL_REUSE_RATIO: &str = "vane_pool_reuse_ratio";
pub const CONNECTIONS_ACTIVE: &str = "vane_connections_active";
pub const UPSTREAM_IDLE: &str = "vane_upstream_connections_idle";
pub const BYTES_IN: &str = "vane_bytes_received_total";
pub const BYTES_OUT: &str = "vane_bytes_sent_total";
pub const ACCESS_LOG_DROPPED: &str = "vane_access_log_dropped_lines_total";
