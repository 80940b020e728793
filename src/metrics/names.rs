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

// The node's own gauges, rendered by the admin API next to the workers' series.
pub const BUILD_INFO: &str = "vane_build_info";
pub const UPTIME: &str = "vane_uptime_seconds";
pub const CONFIG_READY: &str = "vane_config_ready";
pub const CONFIG_GENERATION: &str = "vane_config_generation";
pub const CONFIG_REVISION: &str = "vane_config_revision";
pub const WORKER_GENERATION: &str = "vane_worker_config_generation";
pub const ETCD_CONNECTED: &str = "vane_etcd_connected";
pub const ETCD_FROM_CACHE: &str = "vane_etcd_serving_from_cache";
pub const ETCD_REJECTED_KEYS: &str = "vane_etcd_rejected_keys";
pub const ETCD_LAST_EVENT_AGE: &str = "vane_etcd_last_event_age_seconds";
pub const ENDPOINT_ACTIVE_UP: &str = "vane_endpoint_active_check_up";
pub const ENDPOINT_CHECKS: &str = "vane_endpoint_active_checks_total";
pub const ENDPOINT_CHECK_FAILURES: &str = "vane_endpoint_active_check_failures_total";
