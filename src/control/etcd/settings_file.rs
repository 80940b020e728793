//! With etcd configured the file keeps only the node's settings; this notices edits to it
//! (polled from the control loop, like the file source does: a stat is cheap and immune to
//! editors' rename-on-save) and hands back the new settings.

use std::path::PathBuf;

use crate::model::{parse_toml, Settings};

pub(super) struct SettingsFile {
    path: PathBuf,
    text: Option<String>,
    /// The settings as last parsed from the file (before command-line overrides).
    file: Option<Settings>,
    /// The settings in force.
    current: Settings,
}

impl SettingsFile {
    pub fn new(path: PathBuf, current: Settings) -> Self {
        SettingsFile {
            path,
            text: None,
            file: None,
            current,
        }
    }

    /// The new settings if the file changed and its settings differ. Routes in the file are
    /// ignored; a file that does not parse is logged and changes nothing.
    pub fn poll(&mut self) -> Option<Settings> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        if self.text.as_ref() == Some(&text) {
            return None;
        }
        self.text = Some(text);
        let next = match parse_toml(self.text.as_deref().unwrap_or_default()) {
            Ok(c) => c.settings,
            Err(e) => {
                tracing::error!(target: "vane::etcd", "{}: rejected, keeping the running settings: {e}", self.path.display());
                return None;
            }
        };
        let fixed = |s: &Settings| (s.listen.clone(), s.workers, s.etcd.clone());
        if self.file.as_ref().is_some_and(|f| fixed(f) != fixed(&next)) {
            tracing::warn!(target: "vane::etcd", "listen/workers/etcd changed in the file: they apply at the next restart");
        }
        self.file = Some(next.clone());
        let mut applied = next;
        // Those were fixed at start (and may carry command-line overrides): keep them.
        applied.listen = self.current.listen.clone();
        applied.workers = self.current.workers;
        applied.etcd = self.current.etcd.clone();
        applied.admin = self.current.admin.clone();
        if applied == self.current {
            return None;
        }
        self.current = applied.clone();
        Some(applied)
    }
}
