//! Finding a data set's files: a local data directory first, then the
//! download cache, then the public mirrors — always checking the SHA-256 the
//! plugin declares, so a wrong or damaged file never reaches training.

use crate::DataError;
use crate::idx::decompress_if_gz;
use indus_spec::{FileSpec, SourceSpec};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where data may be found, resolved once from flags and the environment.
#[derive(Debug, Clone, Default)]
pub struct DataLocations {
    /// A folder holding local copies (`--data-dir` or `INDUS_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// Where downloads are kept between runs.
    pub cache_dir: PathBuf,
    /// Never touch the network (`INDUS_OFFLINE=1`).
    pub offline: bool,
    /// A plugin's own folder: files it ships (small, redistributable data
    /// under `<plugin>/data/`) are found there.
    pub bundled_dir: Option<PathBuf>,
}

impl DataLocations {
    /// Resolves locations: an explicit directory wins over `INDUS_DATA_DIR`;
    /// the cache is `INDUS_CACHE_DIR`, else `$XDG_CACHE_HOME/indus`, else
    /// `~/.cache/indus`.
    pub fn from_env(explicit_data_dir: Option<PathBuf>) -> Self {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let cache_dir = env("INDUS_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("indus")))
            .or_else(|| env("HOME").map(|p| p.join(".cache").join("indus")))
            .unwrap_or_else(|| std::env::temp_dir().join("indus-cache"));
        let offline = std::env::var("INDUS_OFFLINE")
            .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        DataLocations {
            data_dir: explicit_data_dir.or_else(|| env("INDUS_DATA_DIR")),
            cache_dir,
            offline,
            bundled_dir: None,
        }
    }

    /// Also looks in `plugin_dir/data/` for files the plugin ships.
    pub fn with_plugin_dir(mut self, plugin_dir: Option<PathBuf>) -> Self {
        self.bundled_dir = plugin_dir;
        self
    }
}

/// The folder playing `role` in an image-folder source: in the data
/// directory (under the data set's name, or directly), else among the
/// plugin's own files. Folders are read where they are, never downloaded.
pub fn locate_folder(
    locations: &DataLocations,
    source: &SourceSpec,
    role: &str,
) -> Result<PathBuf, DataError> {
    let dataset = source.dataset.as_str();
    let spec = source.files.get(role).ok_or_else(|| DataError::Schema {
        source_name: format!("data set `{dataset}`"),
        message: format!("the plugin's data.source.files has no `{role}` entry"),
    })?;
    let mut candidates = Vec::new();
    if let Some(dir) = &locations.data_dir {
        candidates.push(dir.join(dataset).join(&spec.name));
        candidates.push(dir.join(&spec.name));
    }
    if let Some(dir) = &locations.bundled_dir {
        candidates.push(dir.join("data").join(&spec.name));
    }
    if let Some(found) = candidates.iter().find(|c| c.is_dir()) {
        return Ok(found.clone());
    }
    Err(DataError::Unavailable {
        dataset: dataset.to_string(),
        reason: format!("the `{role}` image folder `{}` was not found", spec.name),
        instructions: if candidates.is_empty() {
            format!(
                "give a data directory (--data-dir or INDUS_DATA_DIR) holding {dataset}/{}/, with one sub-folder per class",
                spec.name
            )
        } else {
            format!(
                "looked in: {}; put the folder there, with one sub-folder per class",
                candidates
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    })
}

/// A file's content (decompressed when it was gzip) and where it came from.
#[derive(Debug)]
pub struct FetchedFile {
    /// The file the bytes were read from.
    pub path: PathBuf,
    /// Decompressed content; empty for an uncompressed file larger than
    /// [`crate::STREAM_ABOVE_BYTES`], whose digest was computed as it
    /// streamed past and whose rows are read in batches from `path`
    /// ([`FetchedFile::content`] reads it when bytes are needed).
    pub bytes: Vec<u8>,
    /// Lowercase hex SHA-256 of the decompressed content: what a run
    /// records, whether or not the plugin declares a digest.
    pub sha256: String,
    /// Whether the plugin declares a digest for the file (and so pins it).
    pub declared: bool,
}

impl FetchedFile {
    /// The decompressed content, read again from disk for a large file
    /// that was only streamed through its digest.
    pub fn content(&self) -> Result<std::borrow::Cow<'_, [u8]>, DataError> {
        if self.bytes.is_empty() && !is_gz(&self.path) {
            read(&self.path).map(std::borrow::Cow::Owned)
        } else {
            Ok(std::borrow::Cow::Borrowed(&self.bytes))
        }
    }

    /// Whether the rows are to be read from `path` in batches rather than
    /// from `bytes`.
    pub fn streamed(&self) -> bool {
        self.bytes.is_empty() && !is_gz(&self.path)
    }

    /// What a run records of this file.
    pub fn record(&self) -> DataFile {
        DataFile {
            path: self.path.clone(),
            sha256: Some(self.sha256.clone()),
            declared: self.declared,
        }
    }
}

/// A data file (or image folder) a run read, with the digest of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// SHA-256 of the decompressed content; none for an image folder.
    pub sha256: Option<String>,
    /// Whether the plugin declares the digest.
    pub declared: bool,
}

/// Returns the decompressed content of the file playing `role` in `source`,
/// verified against its declared SHA-256.
pub fn fetch(
    locations: &DataLocations,
    source: &SourceSpec,
    role: &str,
) -> Result<FetchedFile, DataError> {
    let spec = source.files.get(role).ok_or_else(|| DataError::Schema {
        source_name: format!("data set `{}`", source.dataset),
        message: format!("the plugin's data.source.files has no `{role}` entry"),
    })?;
    let dataset = source.dataset.as_str();

    if let Some(dir) = &locations.data_dir {
        for candidate in [dir.join(dataset).join(&spec.name), dir.join(&spec.name)] {
            if candidate.is_file() {
                let advice = format!(
                    "this is your local copy: replace it with the official file, or, if it is the file you mean to use, set `sha256: <got>` under data.source.files.{role} in plugin.yaml"
                );
                return read_verified(candidate, spec, &advice);
            }
        }
    }
    if let Some(dir) = &locations.bundled_dir {
        let candidate = dir.join("data").join(&spec.name);
        if candidate.is_file() {
            return read_verified(
                candidate,
                spec,
                "this file ships with the plugin; restore it from version control",
            );
        }
    }

    let cached = locations.cache_dir.join(dataset).join(&spec.name);
    if cached.is_file() {
        let (bytes, actual) = content_and_digest(&cached)?;
        match verify(&cached, spec, actual, "") {
            Ok(sha256) => {
                return Ok(FetchedFile {
                    path: cached,
                    bytes,
                    sha256,
                    declared: spec.sha256.is_some(),
                });
            }
            // A damaged cache entry is ours to replace: fall through to a fresh download.
            Err(_) => {
                let _ = std::fs::remove_file(&cached);
            }
        }
    }

    let unavailable = |reason: String| DataError::Unavailable {
        dataset: dataset.to_string(),
        reason,
        instructions: instructions(locations, source, &spec.name),
    };
    if locations.offline {
        return Err(unavailable(
            "offline mode (INDUS_OFFLINE=1) and no local copy".into(),
        ));
    }
    if source.mirrors.is_empty() {
        return Err(unavailable("the plugin declares no download mirror".into()));
    }
    let mut failures = Vec::new();
    for mirror in &source.mirrors {
        let url = format!("{}/{}", mirror.trim_end_matches('/'), spec.name);
        match download(&url, &cached, spec) {
            Ok(bytes) => {
                let sha256 = sha256_hex(&bytes);
                return Ok(FetchedFile {
                    path: cached,
                    bytes,
                    sha256,
                    declared: spec.sha256.is_some(),
                });
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(unavailable(format!(
        "every mirror failed:\n  {}",
        failures.join("\n  ")
    )))
}

/// Reads a file a user (or the plugin) provides; a digest mismatch is an
/// error that says whose file it is, never a silent re-download.
fn read_verified(path: PathBuf, spec: &FileSpec, hint: &str) -> Result<FetchedFile, DataError> {
    let (bytes, actual) = content_and_digest(&path)?;
    let sha256 = verify(&path, spec, actual, hint)?;
    Ok(FetchedFile {
        path,
        bytes,
        sha256,
        declared: spec.sha256.is_some(),
    })
}

fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The decompressed content and its digest. An uncompressed file above
/// [`crate::STREAM_ABOVE_BYTES`] is hashed as it streams past and not kept
/// (empty content): a 19 GB table is never held in memory to be verified.
fn content_and_digest(path: &Path) -> Result<(Vec<u8>, String), DataError> {
    let size = file_size(path)?;
    if is_gz(path) || size <= crate::STREAM_ABOVE_BYTES {
        let bytes = decompress_if_gz(path, read(path)?)?;
        let digest = sha256_hex(&bytes);
        return Ok((bytes, digest));
    }
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    std::io::copy(&mut file, &mut hasher).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((Vec::new(), digest))
}

/// The size of the file at `path` in bytes, an error naming it otherwise.
pub(crate) fn file_size(path: &Path) -> Result<u64, DataError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| DataError::Read {
            file: path.to_path_buf(),
            source,
        })
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The digest of `decompressed`, checked against the declared one when the
/// plugin declares it.
fn verify(path: &Path, spec: &FileSpec, actual: String, hint: &str) -> Result<String, DataError> {
    let Some(expected) = &spec.sha256 else {
        return Ok(actual);
    };
    if actual == expected.as_str() {
        return Ok(actual);
    }
    let hint = hint.replace("<got>", &actual);
    let mut advice = if hint.is_empty() {
        String::new()
    } else {
        format!(" ({hint})")
    };
    advice.push_str(&format!("; {}", digest_command(path)));
    Err(DataError::Checksum {
        file: path.to_path_buf(),
        expected: expected.as_str().to_string(),
        actual,
        hint: advice,
    })
}

/// The shell command that computes the digest indus compares: of the
/// decompressed content, so `sha256sum file.gz` would be the wrong one.
fn digest_command(path: &Path) -> String {
    let shown = path.display();
    if is_gz(path) {
        format!(
            "the digest is of the decompressed content: `gunzip -c '{shown}' | sha256sum` computes it (not `sha256sum` of the .gz)"
        )
    } else {
        format!("`sha256sum '{shown}'` computes the digest")
    }
}

/// Downloads to a temporary file beside `target`, verifies, then renames, so
/// an interrupted or corrupted download never looks like a cached file.
fn download(url: &str, target: &Path, spec: &FileSpec) -> Result<Vec<u8>, String> {
    let dir = target.parent().ok_or("cache path has no parent")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut body = response.into_body();
    let raw = body
        .with_config()
        .limit(2 << 30)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    let bytes = decompress_if_gz(target, raw.clone()).map_err(|e| e.to_string())?;
    verify(
        target,
        spec,
        sha256_hex(&bytes),
        "the downloaded file was discarded",
    )
    .map_err(|e| e.to_string())?;
    let partial = dir.join(format!(".{}.part", spec.name));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&partial)?;
        f.write_all(&raw)?;
        f.sync_all()?;
        std::fs::rename(&partial, target)
    };
    write().map_err(|e| format!("cannot store {}: {e}", target.display()))?;
    Ok(bytes)
}

/// Where to put the one file that was wanted (not the data set's whole
/// list: `indus eval` wants only the test file).
fn instructions(locations: &DataLocations, source: &SourceSpec, wanted: &str) -> String {
    let dir = match &locations.data_dir {
        Some(d) => d.join(source.dataset.as_str()).display().to_string(),
        None => format!(
            "<DIR>/{} and pass --data-dir <DIR> (or set INDUS_DATA_DIR=<DIR>)",
            source.dataset
        ),
    };
    format!("put {wanted} in {dir}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use indus_spec::{Name, SourceFormat};
    use std::collections::BTreeMap;

    fn source(sha: Option<&str>) -> SourceSpec {
        let mut files = BTreeMap::new();
        files.insert(
            "train".to_string(),
            FileSpec {
                name: "t.bin".into(),
                sha256: sha.map(|s| s.to_string().try_into().unwrap()),
            },
        );
        SourceSpec {
            format: SourceFormat::Idx,
            dataset: Name::parse("demo").unwrap(),
            files,
            mirrors: vec![],
            paths_outside_data: false,
            joins: vec![],
            delimiter: ',',
            encoding: Default::default(),
            header: true,
            decimal_comma: false,
            missing_markers: vec![],
        }
    }

    #[test]
    fn local_copy_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("demo")).unwrap();
        std::fs::write(dir.path().join("demo/t.bin"), b"abc").unwrap();
        let loc = DataLocations {
            data_dir: Some(dir.path().into()),
            cache_dir: dir.path().join("cache"),
            offline: true,
            bundled_dir: None,
        };
        let good = sha256_hex(b"abc");
        assert_eq!(
            fetch(&loc, &source(Some(&good)), "train").unwrap().bytes,
            b"abc"
        );
        let bad = sha256_hex(b"abd");
        let err = fetch(&loc, &source(Some(&bad)), "train")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("checksum mismatch") && err.contains("t.bin"),
            "{err}"
        );
        // It says how to accept the file and how to compute the digest.
        assert!(
            err.contains(&format!(
                "set `sha256: {good}` under data.source.files.train"
            )),
            "{err}"
        );
        assert!(err.contains("`sha256sum '"), "{err}");
        assert_eq!(fetch(&loc, &source(None), "train").unwrap().sha256, good);
    }

    #[test]
    fn a_gz_mismatch_names_the_digest_of_the_decompressed_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("demo")).unwrap();
        std::fs::write(dir.path().join("demo/t.bin.gz"), gz(b"abc")).unwrap();
        let loc = DataLocations {
            data_dir: Some(dir.path().into()),
            cache_dir: dir.path().join("cache"),
            offline: true,
            bundled_dir: None,
        };
        let mut src = source(Some(&sha256_hex(b"abd")));
        src.files.get_mut("train").unwrap().name = "t.bin.gz".into();
        let err = fetch(&loc, &src, "train").unwrap_err().to_string();
        assert!(err.contains(&sha256_hex(b"abc")), "{err}");
        assert!(err.contains("gunzip -c"), "{err}");
        assert!(err.contains("decompressed content"), "{err}");
    }

    #[test]
    fn offline_without_copy_says_what_to_put_where() {
        let dir = tempfile::tempdir().unwrap();
        let loc = DataLocations {
            data_dir: Some(dir.path().into()),
            cache_dir: dir.path().join("cache"),
            offline: true,
            bundled_dir: None,
        };
        let err = fetch(&loc, &source(None), "train").unwrap_err().to_string();
        assert!(
            err.contains("not available") && err.contains("t.bin") && err.contains("demo"),
            "{err}"
        );
    }

    /// Serves `body` for every request on a loopback port, for `requests` requests.
    fn serve(body: Vec<u8>, requests: usize) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        format!("http://{addr}")
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::new();
        let mut enc = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        drop(enc);
        out
    }

    #[test]
    fn download_is_verified_then_cached_for_offline_use() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"official bytes".to_vec();
        let mut src = source(Some(&sha256_hex(&content)));
        src.files.get_mut("train").unwrap().name = "t.bin.gz".into();
        src.mirrors = vec![
            "http://127.0.0.1:9/unreachable".into(),
            serve(gz(&content), 1),
        ];
        let mut loc = DataLocations {
            data_dir: None,
            cache_dir: dir.path().join("cache"),
            offline: false,
            bundled_dir: None,
        };
        let first = fetch(&loc, &src, "train").unwrap();
        assert_eq!(first.bytes, content);
        assert!(dir.path().join("cache/demo/t.bin.gz").is_file());
        loc.offline = true;
        assert_eq!(fetch(&loc, &src, "train").unwrap().bytes, content);
    }

    #[test]
    fn a_download_with_the_wrong_checksum_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let mut src = source(Some(&sha256_hex(b"expected")));
        src.mirrors = vec![serve(b"tampered".to_vec(), 1)];
        let loc = DataLocations {
            data_dir: None,
            cache_dir: dir.path().join("cache"),
            offline: false,
            bundled_dir: None,
        };
        let err = fetch(&loc, &src, "train").unwrap_err().to_string();
        assert!(
            err.contains("checksum mismatch") && err.contains("discarded"),
            "{err}"
        );
        assert!(!dir.path().join("cache/demo/t.bin").exists());
        let leftovers = std::fs::read_dir(dir.path().join("cache/demo"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(leftovers, 0, "no partial file may stay behind");
    }
}
