//! `vanectl`: the admin API from a shell. `args.rs` is the command line; `client.rs` a small
//! blocking HTTP/1.1 client; `routes.rs` hosts, locations, upstreams and endpoints;
//! `status.rs` status and route tests; `deploy.rs` switch and rollback; `top.rs` the live
//! table; `table.rs` text tables. Tables for people, `--json` for scripts, and exit codes
//! (`CliError::exit_code`) scripts can trust.
//!
//! Talks to Vane only over HTTP: never imports the proxy, the router or the control plane.

mod args;
mod client;
mod deploy;
mod routes;
mod status;
mod table;
mod top;

use std::io::Write;
use std::time::Duration;

pub use args::{Cli, Command};
pub use client::Client;

/// What went wrong, and the exit code it means.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    /// The API did its part but the outcome is not what was asked (a write not served in time).
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unreachable(String),
}

impl CliError {
    /// 1: the API answered an error (or a write was not served in time); 2: usage; 3: the admin
    /// API cannot be reached.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Api { .. } | CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable(_) => 3,
        }
    }
}

/// What every command needs.
pub(crate) struct Ctx<'a> {
    pub client: Client,
    pub json: bool,
    /// `?wait=` for writes (`None`: do not wait).
    pub wait: Option<Duration>,
    pub out: &'a mut dyn Write,
}

impl Ctx<'_> {
    /// Prints `v` as pretty JSON (`--json`).
    pub fn print_json(&mut self, v: &serde_json::Value) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        self.print(&text)
    }

    pub fn print(&mut self, text: &str) -> Result<(), CliError> {
        let r = writeln!(self.out, "{}", text.trim_end_matches('\n'));
        r.and_then(|()| self.out.flush())
            .map_err(|e| CliError::Failed(format!("stdout: {e}")))
    }
}

/// Runs one parsed command line, printing to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let wait = crate::model::parse_duration(&cli.wait)
        .map_err(|e| CliError::Usage(format!("--wait: {e}")))?;
    let mut ctx = Ctx {
        client: Client::new(&cli.admin, cli.token)?,
        json: cli.json,
        wait: (!wait.is_zero()).then_some(wait),
        out,
    };
    match cli.command {
        Command::Status => status::status(&mut ctx),
        Command::Host(c) => routes::host(&mut ctx, c),
        Command::Location(c) => routes::location(&mut ctx, c),
        Command::Upstream(c) => routes::upstream(&mut ctx, c),
        Command::Endpoint(c) => routes::endpoint(&mut ctx, c),
        Command::Route(c) => status::route(&mut ctx, c),
        Command::Deploy(c) => deploy::deploy(&mut ctx, c),
        Command::Top(a) => top::top(&mut ctx, a),
    }
}

/// A JSON argument (`--options`), refused as usage when it does not parse.
pub(crate) fn json_arg(flag: &str, text: &str) -> Result<serde_json::Value, CliError> {
    serde_json::from_str(text).map_err(|e| CliError::Usage(format!("{flag}: not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unreachable_api_is_exit_3_and_bad_json_is_usage() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let admin = format!("http://127.0.0.1:{port}");
        let cli = Cli::parse_from(["vanectl", "--admin", &admin, "status"]);
        let err = run(cli, &mut Vec::new()).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        assert_eq!(json_arg("--options", "{").unwrap_err().exit_code(), 2);
        let cli = Cli::parse_from(["vanectl", "--wait", "soon", "status"]);
        assert_eq!(run(cli, &mut Vec::new()).unwrap_err().exit_code(), 2);
    }
}
