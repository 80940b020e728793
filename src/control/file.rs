//! The TOML file source: read once at start, then watched; a valid edit is applied within a
//! second, an invalid one is logged key by key and the running config stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::Publisher;
use crate::model::{parse_toml, FileConfig};

/// Stat interval. A stat is cheap, and this keeps us free of inotify's editor quirks (rename
/// on save, changes to a symlink's target in a ConfigMap).
const POLL: Duration = Duration::from_millis(250);

pub fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    parse_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[derive(PartialEq, Clone)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    text: String,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        text,
    })
}

/// Watches `path` on its own thread and publishes each valid change.
pub fn watch_file(
    path: PathBuf,
    first: FileConfig,
    publisher: Arc<Mutex<Publisher>>,
) -> std::io::Result<()> {
    // No baseline stamp: the first look compares the file's content with what was loaded, so
    // an edit made between the start-up read and this thread's first run is not lost.
    std::thread::Builder::new().name("vane-config".into()).spawn(move || {
        let mut last: Option<Stamp> = None;
        let mut current = first;
        loop {
            std::thread::sleep(POLL);
            let now = stamp(&path);
            if now.is_none() || now == last {
                continue;
            }
            let text = now.as_ref().map(|s| s.text.clone()).unwrap_or_default();
            last = now;
            match parse_toml(&text) {
                Ok(next) if next == current => {}
                Ok(next) => {
                    apply(&publisher, &current, &next);
                    current = next;
                }
                Err(e) => tracing::error!(target: "vane::control", "{}: rejected, keeping the running config: {e}", path.display()),
            }
        }
    })?;
    Ok(())
}

fn apply(publisher: &Mutex<Publisher>, old: &FileConfig, next: &FileConfig) {
    if old.settings.listen != next.settings.listen || old.settings.workers != next.settings.workers
    {
        tracing::warn!(target: "vane::control", "listen/workers changed in the file: they apply at the next restart");
    }
    let Ok(mut p) = publisher.lock() else { return };
    let started = std::time::Instant::now();
    let snap = p.compile_next(&next.model, Arc::new(next.settings.clone()), 0);
    p.publish_and_retire(&snap);
    tracing::info!(target: "vane::control", generation = snap.generation, compile_ms = started.elapsed().as_secs_f64() * 1e3, "config file applied");
}
