//! Resolves a model argument to a local directory: a path, or a Hugging Face repo id looked up in the
//! local hub cache (`HF_HOME` / `HF_HUB_CACHE`). Downloading is off unless built with `hub-download`
//! and `HF_HUB_OFFLINE` is not set, so classification never touches the network by surprise.

use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use crate::error::{Error, Result};

/// Files every model directory holds.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where an id like `org/name` or `org/name@revision` is looked up.
pub fn default_cache() -> Cache {
    if let Ok(p) = std::env::var("HF_HUB_CACHE") {
        return Cache::new(PathBuf::from(p));
    }
    Cache::from_env()
}

/// True when `HF_HUB_OFFLINE` asks for no network access.
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "False"))
}

/// A directory holding the model files of `path_or_id`.
pub fn resolve(path_or_id: &str) -> Result<PathBuf> {
    resolve_with(path_or_id, &default_cache())
}

/// [`resolve`] against a given cache (tests and tools that manage their own cache).
pub fn resolve_with(path_or_id: &str, cache: &Cache) -> Result<PathBuf> {
    let p = Path::new(path_or_id);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    if p.exists() {
        return Err(Error::invalid_model(
            p,
            "is a file; pass the model directory that holds config.json, tokenizer.json and model.safetensors",
        ));
    }
    // `models/pantau-smal` is a typo of a local path, not a hub id: its first part is a local
    // directory. Say so, and name the model directories that are there.
    if let Some(parent) = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && d.is_dir())
    {
        let mut there: Vec<String> = std::fs::read_dir(parent)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("config.json").is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        there.sort();
        let hint = if there.is_empty() {
            String::new()
        } else {
            format!(
                "; model directories in {}: {}",
                parent.display(),
                there.join(", ")
            )
        };
        return Err(Error::invalid_model(p, format!("no such directory{hint}")));
    }
    let looks_like_id = path_or_id.split('/').count() == 2
        && !path_or_id.starts_with('.')
        && !path_or_id.starts_with('/')
        && !path_or_id.contains('\\');
    if !looks_like_id {
        return Err(Error::invalid_model(
            p,
            "no such directory (and not a hub id of the form org/name)",
        ));
    }
    let (id, revision) = match path_or_id.split_once('@') {
        Some((id, rev)) => (id, rev.to_string()),
        None => (path_or_id, "main".to_string()),
    };
    let repo = Repo::with_revision(id.to_string(), RepoType::Model, revision);
    let cached = cache.repo(repo.clone());
    let mut found = Vec::new();
    for f in MODEL_FILES {
        match cached.get(f) {
            Some(path) => found.push(path),
            None => return download_or_fail(path_or_id, repo, cache, f),
        }
    }
    // All files of one snapshot live in the same folder.
    Ok(found[0].parent().map(Path::to_path_buf).unwrap_or_default())
}

#[cfg(feature = "hub-download")]
fn download_or_fail(id: &str, repo: Repo, cache: &Cache, missing: &str) -> Result<PathBuf> {
    if offline() {
        return not_found(id, cache, missing);
    }
    let failed = |hint: String| Error::ModelNotFound {
        id: id.into(),
        cache: cache.path().clone(),
        hint,
    };
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
        .build()
        .map_err(|e| failed(format!("cannot start the hub client: {e}")))?;
    let repo = api.repo(repo);
    let mut dir = None;
    for f in MODEL_FILES {
        let p = repo
            .get(f)
            .map_err(|e| failed(format!("download of {f} failed: {e}")))?;
        dir = p.parent().map(Path::to_path_buf);
    }
    Ok(dir.unwrap_or_default())
}

#[cfg(not(feature = "hub-download"))]
fn download_or_fail(id: &str, _repo: Repo, cache: &Cache, missing: &str) -> Result<PathBuf> {
    not_found(id, cache, missing)
}

fn not_found(id: &str, cache: &Cache, missing: &str) -> Result<PathBuf> {
    Err(Error::ModelNotFound {
        id: id.into(),
        cache: cache.path().clone(),
        hint: format!(
            "{missing} is missing there; pantau does not download at run time, so put the model in the cache \
             (e.g. `huggingface-cli download {id}` on a connected machine) or pass a local directory"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_resolves_to_itself() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path().to_str().unwrap();
        assert_eq!(
            resolve_with(s, &Cache::new(d.path().into())).unwrap(),
            d.path()
        );
    }

    #[test]
    fn missing_ids_name_the_cache_and_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let err = resolve_with("nobody/nothing", &Cache::new(d.path().into())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("nobody/nothing") && msg.contains("config.json"),
            "{msg}"
        );
        assert!(msg.contains(d.path().to_str().unwrap()), "{msg}");
    }

    #[test]
    fn a_missing_path_is_not_mistaken_for_an_id() {
        let d = tempfile::tempdir().unwrap();
        let err = resolve_with("./no/such/dir", &Cache::new(d.path().into())).unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
    }

    #[test]
    fn cached_snapshot_resolves() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path().into());
        let repo = Repo::model("pantau/test-model".into());
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snap = d
            .path()
            .join(repo.folder_name())
            .join("snapshots")
            .join(commit);
        std::fs::create_dir_all(&snap).unwrap();
        for f in MODEL_FILES {
            std::fs::write(snap.join(f), b"{}").unwrap();
        }
        cache.repo(repo).create_ref(commit).unwrap();
        assert_eq!(resolve_with("pantau/test-model", &cache).unwrap(), snap);
        let err = resolve_with("pantau/test-model@v2", &cache).unwrap_err();
        assert!(matches!(err, Error::ModelNotFound { .. }));
    }
}
