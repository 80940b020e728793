//! The admin API's bearer token: where it comes from (`$VANE_ADMIN_TOKEN`, else `[admin]
//! token`, else `[admin] token_file`), the rule that a non-loopback listener must have one, and
//! the constant-time check of a request's `Authorization` header.

use std::net::SocketAddr;

use super::AdminError;
use crate::model::{validate_admin_token, AdminSettings};

/// The environment variable that overrides `[admin]`.
pub const TOKEN_ENV: &str = "VANE_ADMIN_TOKEN";

/// A token the API requires; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    pub fn new(token: &str) -> Result<Token, AdminError> {
        validate_admin_token(token).map_err(AdminError::BadToken)?;
        Ok(Token(token.to_string()))
    }

    /// Whether an `Authorization` header value carries this token. Compares in time that
    /// depends only on the lengths, so a remote client cannot find the token byte by byte.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization.and_then(bearer) else {
            return false;
        };
        constant_time_eq(given, self.0.as_bytes())
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 6750 §2.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the compiler from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// The token in force: `env` (the value of `$VANE_ADMIN_TOKEN`, if set and not empty) wins over
/// `[admin]`; a token file is read here, once, at start.
pub fn resolve(settings: &AdminSettings, env: Option<String>) -> Result<Option<Token>, AdminError> {
    if let Some(t) = env.filter(|t| !t.is_empty()) {
        return Token::new(t.trim()).map(Some);
    }
    if let Some(t) = &settings.token {
        return Token::new(t).map(Some);
    }
    if let Some(path) = &settings.token_file {
        let text = std::fs::read_to_string(path).map_err(|source| AdminError::TokenFile {
            path: path.display().to_string(),
            source,
        })?;
        return Token::new(text.trim()).map(Some);
    }
    Ok(None)
}

/// Anyone who can reach a non-loopback address could rewrite the routes: refuse without a token.
pub fn check_exposure(addr: SocketAddr, token: Option<&Token>) -> Result<(), AdminError> {
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(AdminError::TokenRequired(addr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0123456789abcdef-token";

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let t = Token::new(T).unwrap();
        assert!(t.accepts(Some(format!("Bearer {T}").as_bytes())));
        assert!(t.accepts(Some(format!("bearer  {T} ").as_bytes())));
        assert!(!t.accepts(Some(format!("Bearer {T}x").as_bytes())));
        assert!(!t.accepts(Some(format!("Basic {T}").as_bytes())));
        assert!(!t.accepts(Some(b"Bearer")));
        assert!(!t.accepts(None));
        assert!(!format!("{t:?}").contains(T));
    }

    #[test]
    fn env_wins_and_files_are_trimmed() {
        let dir = std::env::temp_dir().join(format!("vane-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, format!("{T}\n")).unwrap();
        let from_file = AdminSettings {
            token: None,
            token_file: Some(file),
        };
        assert_eq!(resolve(&from_file, None).unwrap(), Some(Token(T.into())));
        let env = "fedcba9876543210-env".to_string();
        assert_eq!(
            resolve(&from_file, Some(env.clone())).unwrap(),
            Some(Token(env))
        );
        assert!(resolve(&AdminSettings::default(), Some("short".into())).is_err());
        let missing = AdminSettings {
            token: None,
            token_file: Some(dir.join("missing")),
        };
        assert!(matches!(
            resolve(&missing, None),
            Err(AdminError::TokenFile { .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_public_listener_needs_a_token() {
        let public: SocketAddr = "0.0.0.0:8182".parse().unwrap();
        let local: SocketAddr = "[::1]:8182".parse().unwrap();
        assert!(check_exposure(public, None).is_err());
        assert!(check_exposure(local, None).is_ok());
        assert!(check_exposure(public, Some(&Token::new(T).unwrap())).is_ok());
    }
}
