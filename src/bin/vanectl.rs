//! `vanectl`: the admin API from a shell. Exit codes: 0 ok, 1 API error (or a write not served
//! in time), 2 usage, 3 the admin API cannot be reached.

use clap::Parser;
use vane::cli::{run, Cli};

fn main() {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    if let Err(e) = run(cli, &mut out) {
        eprintln!("vanectl: {e}");
        std::process::exit(e.exit_code());
    }
}
