//! The admin layer's errors: `ApiError` becomes a JSON answer (`{"error": ..}`, plus `key` when
//! one config key is at fault) in exactly one place, `http::write_response`; `AdminError` is
//! what can keep the API from starting.

use std::net::SocketAddr;

/// An answer other than success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// The etcd key (or body field) the error is about.
    pub key: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            key: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// A bad value for `key`: the message names the key too, so a client printing only
    /// `error` still says which one.
    pub fn bad_key(key: impl Into<String>, message: impl AsRef<str>) -> Self {
        let key = key.into();
        ApiError {
            status: 400,
            message: format!("{key}: {}", message.as_ref()),
            key: Some(key),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    pub fn body(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "error": self.message });
        if let Some(k) = &self.key {
            v["key"] = k.clone().into();
        }
        v
    }
}

/// Why the admin API cannot start; `vane` refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "the admin API would listen on {0}, which is not a loopback address, without a token: \
         set [admin] token or token_file, or $VANE_ADMIN_TOKEN (or listen on 127.0.0.1)"
    )]
    TokenRequired(SocketAddr),
    #[error("admin token: {0}")]
    BadToken(String),
    #[error("admin token file {path}: {source}")]
    TokenFile {
        path: String,
        source: std::io::Error,
    },
    #[error("admin listener {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("admin thread: {0}")]
    Thread(std::io::Error),
}
