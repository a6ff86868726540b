//! The lake: where tables live, how they are laid out, and how a new version
//! of a table replaces the old one.
//!
//! Layout under the lake root:
//!
//! ```text
//! <layer>/<table>/                      one table (Parquet or CSV files)
//! <layer>/<table>/year=2024/month=1/…   hive partitions, NULL as __HIVE_DEFAULT_PARTITION__
//! <layer>/<table>/part-00000.<run>.parquet  a file of the version that run wrote
//! <layer>/<table>/_strata_log/<n>.json  version n's manifest (schema, files, run, inputs)
//! <layer>/<table>/_delta_log/<n>.json   the same version as a Delta Lake commit
//! _strata/lock                          held by the run writing the lake
//! ```
//!
//! All reads and writes go through `object_store`, the same way on local
//! disk and S3: a new version's files get names of their own, and creating
//! its log entry commits it (see [`versions`]).

pub mod ddl;
pub mod delta;
pub mod manifest;
pub(crate) mod s3_lock;
pub mod versions;
pub mod writer;

use std::fmt;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::config::S3Env;
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

    /// SQL schemas that are not the lake's: the legacy source, the lake's
    /// records, and the SQL standard's catalog.
    pub const RESERVED: [&'static str; 3] = ["legacy", "meta", "information_schema"];

    /// A layer name: a lowercase SQL identifier that is not reserved.
    pub fn new(name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid || Self::RESERVED.contains(&name) {
            return Err(Error::Config(format!(
                "`{name}` cannot be a layer: use a lowercase identifier other than {}",
                Self::RESERVED.map(|r| format!("`{r}`")).join(", ")
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

/// A table of the lake: `layer.name`. Stored and shown as that text.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
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

    /// Reads `layer.name`.
    pub fn parse(text: &str) -> Result<Self> {
        let (layer, name) = text.split_once('.').ok_or_else(|| {
            Error::Config(format!("`{text}` is not a lake table: write layer.table"))
        })?;
        TableId::new(Layer::new(layer)?, name)
    }

    /// The table's folder, relative to the lake root.
    pub fn key(&self) -> Path {
        Path::from(format!("{}/{}", self.layer, self.name))
    }
}

impl TryFrom<String> for TableId {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        TableId::parse(&text)
    }
}

impl From<TableId> for String {
    fn from(id: TableId) -> String {
        id.to_string()
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer, self.name)
    }
}

pub use crate::config::LakeRoot;

/// An open lake.
#[derive(Debug)]
pub struct Lake {
    root: LakeRoot,
    /// The store, with keys relative to the lake root.
    store: Arc<dyn ObjectStore>,
    /// The whole bucket, for DataFusion, which addresses objects by URL.
    bucket_store: Option<Arc<dyn ObjectStore>>,
}

/// An S3 client from the AWS conventions, as captured in `env`:
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION` (default us-east-1), `AWS_ENDPOINT_URL` (an S3-compatible
/// server) and `AWS_ALLOW_HTTP` (for a local one). Requests are retried with
/// backoff on throttling and server errors (object_store's policy, 10
/// attempts at most).
fn s3_store(bucket: &str, env: &S3Env) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    let mut b = AmazonS3Builder::new().with_bucket_name(bucket);
    // What AmazonS3Builder::from_env does, from the captured variables.
    for (key, value) in env.vars() {
        if let Ok(k) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            b = b.with_config(k, value);
        }
    }
    if let Some(endpoint) = env
        .get("AWS_ENDPOINT_URL")
        .or_else(|| env.get("AWS_ENDPOINT_URL_S3"))
    {
        b = b.with_endpoint(endpoint);
    }
    if env.get("AWS_REGION").is_none() && env.get("AWS_DEFAULT_REGION").is_none() {
        b = b.with_region("us-east-1");
    }
    if env
        .get("AWS_ALLOW_HTTP")
        .is_some_and(|v| v == "true" || v == "1")
    {
        b = b.with_allow_http(true);
    }
    b = b.with_retry(object_store::RetryConfig {
        max_retries: 10,
        retry_timeout: std::time::Duration::from_secs(120),
        ..Default::default()
    });
    let store = b
        .build()
        .map_err(|e| Error::Config(format!("lake s3://{bucket}: {e}")))?;
    Ok(Arc::new(store))
}

impl Lake {
    /// Opens the lake at `root`: a local directory (created if missing) or
    /// a prefix of an S3 bucket, reached with `s3`'s settings.
    pub fn open(root: &LakeRoot, s3: &S3Env) -> Result<Self> {
        match root {
            LakeRoot::S3 { bucket, prefix } => {
                let bucket_store = s3_store(bucket, s3)?;
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    bucket_store.clone()
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(
                        bucket_store.clone(),
                        prefix.as_str(),
                    ))
                };
                Ok(Lake {
                    root: root.clone(),
                    store,
                    bucket_store: Some(bucket_store),
                })
            }
            LakeRoot::Local(path) => {
                std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
                let path = path.canonicalize().map_err(|e| Error::io(path, e))?;
                let store = LocalFileSystem::new_with_prefix(&path)?;
                Ok(Lake {
                    root: LakeRoot::Local(path),
                    store: Arc::new(store),
                    bucket_store: None,
                })
            }
        }
    }

    /// For an S3 lake, the bucket's URL and store, to register with
    /// DataFusion (which reads tables by URL).
    pub fn bucket(&self) -> Option<(String, Arc<dyn ObjectStore>)> {
        match (&self.root, &self.bucket_store) {
            (LakeRoot::S3 { bucket, .. }, Some(store)) => {
                Some((format!("s3://{bucket}"), store.clone()))
            }
            _ => None,
        }
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
        self.root.url()
    }

    /// A printable location.
    pub fn describe(&self) -> String {
        self.root.to_string()
    }

    /// A key's local path, for a lake on local disk.
    pub fn local_path(&self, key: &str) -> Option<std::path::PathBuf> {
        match &self.root {
            LakeRoot::Local(root) => Some(root.join(key)),
            LakeRoot::S3 { .. } => None,
        }
    }

    /// Takes the lake's write lock for the life of the returned guard.
    pub async fn lock(&self) -> Result<LakeLock> {
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
                // Lakes from before table versions staged tables here.
                let staging = dir.join("staging");
                if staging.exists() {
                    std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
                }
                Ok(LakeLock::Local(file))
            }
            LakeRoot::S3 { .. } => s3_lock::acquire(&self.store, &self.describe()).await,
        }
    }

    /// Deletes every object under a prefix.
    pub async fn delete_prefix(&self, prefix: &Path) -> Result<()> {
        let keys: Vec<_> = self
            .store
            .list(Some(prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for k in keys {
            match self.store.delete(&k).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The tables the lake holds: their folders.
    pub async fn table_ids(&self) -> Result<Vec<TableId>> {
        let mut out = vec![];
        let top = self.store.list_with_delimiter(None).await?;
        for layer_dir in top.common_prefixes {
            let Some(layer) = layer_dir.filename().and_then(|l| Layer::new(l).ok()) else {
                continue;
            };
            let tables = self.store.list_with_delimiter(Some(&layer_dir)).await?;
            for table_dir in tables.common_prefixes {
                if let Some(id) = table_dir
                    .filename()
                    .and_then(|n| TableId::new(layer.clone(), n).ok())
                {
                    out.push(id);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The current version of every table the lake holds.
    pub async fn tables(&self) -> Result<Vec<manifest::TableManifest>> {
        let ids = self.table_ids().await?;
        let found: Vec<Option<manifest::TableManifest>> = futures::stream::iter(ids)
            .map(|id| async move { versions::current(self, &id).await })
            .buffered(16)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// The current version of one table, if the lake holds it.
    pub async fn manifest(&self, table: &TableId) -> Result<Option<manifest::TableManifest>> {
        versions::current(self, table).await
    }
}

/// Held while a run writes the lake; released on drop (or when the process dies).
#[derive(Debug)]
pub enum LakeLock {
    /// An advisory lock on `_strata/lock`, released when the file closes.
    Local(std::fs::File),
    /// The `_strata/lock` object, created only if absent; deleted on drop.
    S3(s3_lock::Held),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_that_are_not_the_lake_cannot_be_layers() {
        for reserved in ["legacy", "meta", "information_schema"] {
            let e = Layer::new(reserved).unwrap_err().to_string();
            assert!(e.contains(reserved), "{e}");
        }
        assert!(Layer::new("gold").is_ok());
        assert!(Layer::new("Gold").is_err());
    }
}
