//! The lake: where tables live, how they are laid out, and how a new version
//! of a table replaces the old one.
//!
//! Layout under the lake root:
//!
//! ```text
//! <layer>/<table>/                      one table (Parquet or CSV files)
//! <layer>/<table>/year=2024/month=1/…   hive partitions, NULL as __HIVE_DEFAULT_PARTITION__
//! <layer>/<table>/_strata_table.json    the table's manifest (schema, files, run)
//! _strata/staging/<run>/<layer>/<table> a table being written by a run
//! _strata/lock                          held by the run writing the lake
//! ```
//!
//! All reads and writes of table files go through `object_store`; only the
//! final swap of a finished table is backend-specific (see [`commit`]).

pub mod catalog;
pub mod commit;
pub mod ddl;
pub mod manifest;
pub mod writer;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};

/// The Hive convention for a NULL partition value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";
/// The folder of Strata's own bookkeeping inside the lake.
pub const META_DIR: &str = "_strata";

/// A layer of the lake, which is also a SQL schema (`raw`, `bronze`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Layer(String);

impl Layer {
    /// The medallion layers, in the order data flows through them.
    pub const MEDALLION: [&'static str; 4] = ["raw", "bronze", "silver", "gold"];

    /// A layer name: a lowercase SQL identifier that is not reserved.
    pub fn new(name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid || name == crate::source::SCHEMA {
            return Err(Error::Config(format!(
                "`{name}` cannot be a layer: use a lowercase identifier other than `legacy`"
            )));
        }
        Ok(Layer(name.to_string()))
    }

    /// The layer's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table of the lake: `layer.name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    /// Its layer (SQL schema).
    pub layer: Layer,
    /// Its name inside the layer.
    pub name: String,
}

impl TableId {
    /// Builds an id, checking the table name is a plain identifier.
    pub fn new(layer: Layer, name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(Error::Config(format!(
                "`{name}` cannot be a table name: use a lowercase identifier"
            )));
        }
        Ok(TableId {
            layer,
            name: name.to_string(),
        })
    }

    /// The table's folder, relative to the lake root.
    pub fn key(&self) -> Path {
        Path::from(format!("{}/{}", self.layer, self.name))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer, self.name)
    }
}

/// Where the lake's root is.
#[derive(Debug, Clone)]
pub enum LakeRoot {
    /// A directory on local disk (absolute).
    Local(PathBuf),
}

/// An open lake.
#[derive(Debug)]
pub struct Lake {
    root: LakeRoot,
    /// The store, with keys relative to the lake root.
    store: Arc<dyn ObjectStore>,
}

impl Lake {
    /// Opens the lake at `location` (created if it is a missing local directory).
    pub fn open(location: &str) -> Result<Self> {
        if let Some((scheme, _)) = location.split_once("://")
            && scheme != "file"
        {
            return Err(Error::Config(format!(
                "lake {location}: `{scheme}://` lakes are not supported yet; use a local directory"
            )));
        }
        let path = PathBuf::from(location.trim_start_matches("file://"));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let path = path.canonicalize().map_err(|e| Error::io(&path, e))?;
        let store = LocalFileSystem::new_with_prefix(&path)?;
        Ok(Lake {
            root: LakeRoot::Local(path),
            store: Arc::new(store),
        })
    }

    /// The store holding the lake, keys relative to its root.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The root, as configured.
    pub fn root(&self) -> &LakeRoot {
        &self.root
    }

    /// The lake root as a URL DataFusion can list (`file:///...`), with a trailing slash.
    pub fn url(&self) -> String {
        match &self.root {
            LakeRoot::Local(p) => format!("file://{}/", p.display()),
        }
    }

    /// A printable location.
    pub fn describe(&self) -> String {
        match &self.root {
            LakeRoot::Local(p) => p.display().to_string(),
        }
    }

    /// A key's local path, for a lake on local disk.
    pub fn local_path(&self, key: &str) -> Option<std::path::PathBuf> {
        match &self.root {
            LakeRoot::Local(root) => Some(root.join(key)),
        }
    }

    /// Where a run stages a table before the swap.
    pub fn staging_key(&self, run_id: &str, table: &TableId) -> Path {
        Path::from(format!(
            "{META_DIR}/staging/{run_id}/{}/{}",
            table.layer, table.name
        ))
    }

    /// Takes the lake's write lock for the life of the returned guard, and
    /// clears what dead runs left in staging (safe: only the lock holder writes).
    pub fn lock(&self) -> Result<LakeLock> {
        match &self.root {
            LakeRoot::Local(root) => {
                let dir = root.join(META_DIR);
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let path = dir.join("lock");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                match file.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(Error::Locked(root.display().to_string()));
                    }
                    Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
                }
                let staging = dir.join("staging");
                if staging.exists() {
                    std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
                }
                Ok(LakeLock { _file: file })
            }
        }
    }

    /// Removes what a finished run left in staging (the old versions it
    /// swapped out are already gone; this clears the empty folders).
    pub async fn clear_staging(&self, run_id: &str) -> Result<()> {
        match &self.root {
            LakeRoot::Local(root) => {
                let dir = root.join(META_DIR).join("staging").join(run_id);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(Error::io(dir, e)),
                }
            }
        }
    }

    /// The tables the lake holds, from their manifests.
    pub async fn tables(&self) -> Result<Vec<manifest::TableManifest>> {
        let mut out = vec![];
        let top = self.store.list_with_delimiter(None).await?;
        for layer_dir in top.common_prefixes {
            let Some(layer) = layer_dir.filename() else {
                continue;
            };
            if layer.starts_with('_') || layer.starts_with('.') || Layer::new(layer).is_err() {
                continue;
            }
            let tables = self.store.list_with_delimiter(Some(&layer_dir)).await?;
            for table_dir in tables.common_prefixes {
                let key = table_dir.clone().join(manifest::MANIFEST_FILE);
                match self.store.get(&key).await {
                    Ok(got) => {
                        let bytes = got.bytes().await?;
                        out.push(manifest::TableManifest::from_json(&bytes, &key)?);
                    }
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        out.sort_by(|a, b| a.table.cmp(&b.table));
        Ok(out)
    }

    /// The manifest of one table, if the lake holds it.
    pub async fn manifest(&self, table: &TableId) -> Result<Option<manifest::TableManifest>> {
        let key = table.key().join(manifest::MANIFEST_FILE);
        match self.store.get(&key).await {
            Ok(got) => Ok(Some(manifest::TableManifest::from_json(
                &got.bytes().await?,
                &key,
            )?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object key under a prefix, sorted.
    pub async fn list_keys(&self, prefix: &Path) -> Result<Vec<(Path, u64)>> {
        let mut keys: Vec<(Path, u64)> = self
            .store
            .list(Some(prefix))
            .map_ok(|m| (m.location, m.size))
            .try_collect()
            .await?;
        keys.sort();
        Ok(keys)
    }
}

/// Held while a run writes the lake; released on drop (or when the process dies).
#[derive(Debug)]
pub struct LakeLock {
    _file: std::fs::File,
}
