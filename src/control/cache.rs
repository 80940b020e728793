//! The last-known-good route cache on disk (static stability, issue 3 item 6): the store's keys
//! at one revision, written atomically to the state dir, read back when etcd is down at start.
//!
//! Format: one JSON document, `{"version":1,"revision":R,"kvs":[{"key":..,"value":..,
//! "mod_revision":N},..]}`. A value is a JSON string when it is UTF-8 and an array of bytes
//! otherwise, so any value round-trips (a non-UTF-8 value is rejected by the store, but the raw
//! view may hold one). Pass `Store::serving_kvs()` to save what is actually served.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::store::Kv;

/// The cache's file name inside the state dir.
pub const CACHE_FILE: &str = "etcd-routes.json";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Doc {
    version: u32,
    revision: i64,
    kvs: Vec<DocKv>,
}

#[derive(Serialize, Deserialize)]
struct DocKv {
    key: String,
    value: Value,
    mod_revision: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Value {
    Text(String),
    Bytes(Vec<u8>),
}

/// Writes the cache atomically: a temp file in `dir`, fsync, rename over the old one, fsync
/// the dir. A crash at any point leaves the old cache or the new one, never a torn file.
/// `kvs`: `(key, value, mod_revision)`, borrowed from wherever the caller keeps them.
pub fn save<'a>(
    dir: &Path,
    revision: i64,
    kvs: impl IntoIterator<Item = (&'a str, &'a [u8], i64)>,
) -> io::Result<()> {
    let doc = Doc {
        version: VERSION,
        revision,
        kvs: kvs
            .into_iter()
            .map(|(key, value, mod_revision)| DocKv {
                key: key.to_string(),
                value: match std::str::from_utf8(value) {
                    Ok(s) => Value::Text(s.to_string()),
                    Err(_) => Value::Bytes(value.to_vec()),
                },
                mod_revision,
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&doc).map_err(io::Error::other)?;
    let tmp = dir.join(format!(".{CACHE_FILE}.{}.tmp", std::process::id()));
    let written = write_synced(&tmp, &bytes).and_then(|()| fs::rename(&tmp, dir.join(CACHE_FILE)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir)?.sync_all()
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads the cache: `None` if there is none; a corrupt or unknown file is an error.
pub fn load(dir: &Path) -> io::Result<Option<(i64, Vec<Kv>)>> {
    let bytes = match fs::read(dir.join(CACHE_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let doc: Doc = serde_json::from_slice(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("route cache: {e}")))?;
    if doc.version != VERSION {
        let msg = format!("route cache: unknown version {}", doc.version);
        return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
    }
    let kvs = doc
        .kvs
        .into_iter()
        .map(|kv| {
            let value = match kv.value {
                Value::Text(s) => s.into_bytes(),
                Value::Bytes(b) => b,
            };
            (kv.key, value, kv.mod_revision)
        })
        .collect();
    Ok(Some((doc.revision, kvs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("vane-cache-{tag}-{}-{n}", std::process::id());
            let p = std::env::temp_dir().join(name);
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn absent_is_none() {
        let d = TempDir::new("absent");
        assert!(load(&d.0).unwrap().is_none());
    }

    #[test]
    fn round_trips_any_bytes_and_leaves_no_temp_file() {
        let d = TempDir::new("roundtrip");
        let kvs = vec![
            ("/vulcand/a".to_string(), b"http://127.0.0.1:1".to_vec(), 5),
            ("/vulcand/b".to_string(), vec![0xff, 0x00, b'"'], 6),
            ("/vulcand/c".to_string(), Vec::new(), 7),
            (
                "/vulcand/d".to_string(),
                "é \"q\" \\".as_bytes().to_vec(),
                8,
            ),
        ];
        save(&d.0, 42, refs(&kvs)).unwrap();
        assert_eq!(load(&d.0).unwrap(), Some((42, kvs.clone())));
        // Overwrite: the newer cache replaces the old one.
        save(&d.0, 43, refs(&kvs[..1])).unwrap();
        assert_eq!(load(&d.0).unwrap(), Some((43, kvs[..1].to_vec())));
        let names: Vec<_> = fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(CACHE_FILE)]);
    }

    #[test]
    fn corrupt_is_an_error_not_a_panic() {
        let d = TempDir::new("corrupt");
        for junk in [
            &b"{"[..],
            b"",
            b"\xff\xfe",
            br#"{"version":1,"revision":1}"#,
            br#"{"version":9,"revision":1,"kvs":[]}"#,
            br#"{"version":1,"revision":1,"kvs":[{"key":"k","value":[300],"mod_revision":1}]}"#,
        ] {
            fs::write(d.0.join(CACHE_FILE), junk).unwrap();
            let e = load(&d.0).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{junk:?}");
        }
    }

    #[test]
    fn missing_dir_is_an_error() {
        let d = TempDir::new("missing");
        let gone = d.0.join("nope");
        assert!(save(&gone, 1, refs(&[])).is_err());
    }

    fn refs(kvs: &[Kv]) -> impl Iterator<Item = (&str, &[u8], i64)> {
        kvs.iter()
            .map(|(k, v, rev)| (k.as_str(), v.as_slice(), *rev))
    }
}
