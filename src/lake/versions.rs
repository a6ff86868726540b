//! Table versions: each table is a sequence of immutable versions, and a
//! reader names the one it reads.
//!
//! A version is a manifest in the table's log, `<table>/_strata_log/
//! <version, 20 digits>.json`, listing the files it holds. Files are never
//! overwritten: a run writes its files under names no other version uses
//! (`part-00000.<run>.parquet`) beside the older versions' files, then
//! commits by creating the next log entry, which fails if it already exists
//! (a local hard link, or a conditional PUT on S3). Until that entry exists
//! no reader knows of the new files; once it does, the table's current
//! version is the new one. A reader that planned on the old version keeps
//! reading the old files, which stay until [`vacuum`] expires them.
//!
//! Parquet tables also get a Delta Lake transaction log beside (see
//! [`super::delta`]), so other engines read the same versions.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions};

use super::manifest::{LEGACY_MANIFEST_FILE, TableManifest};
use super::{Lake, TableId};
pub use crate::config::Retention;
use crate::error::{Error, Result};

/// The folder of a table's version log, inside its folder.
pub const LOG_DIR: &str = "_strata_log";

fn log_key(table: &TableId, version: u64) -> Path {
    Path::from(format!("{}/{LOG_DIR}/{version:020}.json", table.key()))
}

/// The versions a table's log holds, oldest first.
pub async fn list(lake: &Lake, table: &TableId) -> Result<Vec<u64>> {
    numbered_entries(lake, table, LOG_DIR).await
}

/// The versions numbered by `<version>.json` files in a folder of the
/// table's (its log, or its Delta log), sorted.
pub(crate) async fn numbered_entries(lake: &Lake, table: &TableId, dir: &str) -> Result<Vec<u64>> {
    let prefix = Path::from(format!("{}/{dir}", table.key()));
    let mut out: Vec<u64> = lake
        .store()
        .list(Some(&prefix))
        .try_filter_map(|m| async move {
            Ok(m.location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|v| v.parse::<u64>().ok()))
        })
        .try_collect()
        .await?;
    out.sort_unstable();
    Ok(out)
}

async fn read(lake: &Lake, key: &Path) -> Result<Option<TableManifest>> {
    match lake.store().get(key).await {
        Ok(got) => Ok(Some(TableManifest::from_json(&got.bytes().await?, key)?)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A table written before versions were kept: its one manifest, as version 0.
async fn legacy(lake: &Lake, table: &TableId) -> Result<Option<TableManifest>> {
    let mut m = read(lake, &table.key().join(LEGACY_MANIFEST_FILE)).await?;
    if let Some(m) = &mut m {
        m.version = 0;
    }
    Ok(m)
}

/// The table's current version: the latest in its log.
pub async fn current(lake: &Lake, table: &TableId) -> Result<Option<TableManifest>> {
    match list(lake, table).await?.last() {
        Some(&v) => read(lake, &log_key(table, v)).await,
        None => legacy(lake, table).await,
    }
}

/// One version of a table, or an error that says why it cannot be read.
pub async fn at(lake: &Lake, table: &TableId, version: u64) -> Result<TableManifest> {
    if let Some(m) = read(lake, &log_key(table, version)).await? {
        return Ok(m);
    }
    let kept = list(lake, table).await?;
    let message = match (kept.first(), kept.last()) {
        (_, Some(&last)) if version > last => {
            format!("has no version {version}: its latest is {last}")
        }
        (Some(&first), _) => format!(
            "version {version} is no longer kept (vacuumed): the oldest kept is {first}; \
             see `strata history {table}`"
        ),
        _ => match legacy(lake, table).await? {
            Some(_) if version == 0 => return Ok(legacy(lake, table).await?.expect("just read")),
            Some(_) => format!("has no version {version}: its only version is 0"),
            None => "is not a table of the lake".to_string(),
        },
    };
    Err(Error::Lake {
        key: table.to_string(),
        message,
    })
}

/// The version that was current at `when` (RFC 3339): the latest committed
/// at or before it.
pub async fn as_of(
    lake: &Lake,
    table: &TableId,
    when: chrono::DateTime<chrono::Utc>,
) -> Result<TableManifest> {
    let mut found = None;
    for m in history(lake, table).await? {
        match chrono::DateTime::parse_from_rfc3339(&m.written_at) {
            Ok(t) if t <= when => found = Some(m),
            _ => break,
        }
    }
    found.ok_or_else(|| Error::Lake {
        key: table.to_string(),
        message: format!(
            "has no version as of {}: its oldest kept version is newer",
            when.to_rfc3339()
        ),
    })
}

/// Every kept version of a table, oldest first.
pub async fn history(lake: &Lake, table: &TableId) -> Result<Vec<TableManifest>> {
    let versions = list(lake, table).await?;
    if versions.is_empty() {
        return Ok(legacy(lake, table).await?.into_iter().collect());
    }
    let mut out: Vec<TableManifest> = futures::stream::iter(versions)
        .map(|v| async move { read(lake, &log_key(table, v)).await })
        .buffered(16)
        .try_filter_map(|m| async move { Ok(m) })
        .try_collect()
        .await?;
    out.sort_by_key(|m| m.version);
    Ok(out)
}

/// Whether a version is still kept (a reader checks before it scans).
pub async fn is_kept(lake: &Lake, table: &TableId, version: u64) -> Result<bool> {
    match lake.store().head(&log_key(table, version)).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => {
            // A table from before versions: version 0 is its manifest.
            Ok(version == 0
                && list(lake, table).await?.is_empty()
                && legacy(lake, table).await?.is_some())
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates a log entry only if it does not exist yet.
async fn create(lake: &Lake, key: &Path, bytes: Vec<u8>) -> Result<bool> {
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match lake.store().put_opts(key, bytes.into(), opts).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Commits `manifest` as the table's next version, whose files are already
/// in place, and returns it with its version set. The caller holds the
/// lake's lock; the log entry is still created only if absent, so two
/// writers can never both commit the same version.
pub async fn commit(lake: &Lake, mut manifest: TableManifest) -> Result<TableManifest> {
    let table = manifest.table.clone();
    let kept = list(lake, &table).await?;
    let previous = match kept.last() {
        Some(&v) => read(lake, &log_key(&table, v)).await?,
        None => {
            // Move a pre-versions manifest into the log as version 0, so
            // that its files stay readable and are expired like any others.
            let old = legacy(lake, &table).await?;
            if let Some(old) = &old {
                create(lake, &log_key(&table, 0), old.to_json()).await?;
            }
            old
        }
    };
    manifest.version = previous.as_ref().map_or(0, |p| p.version + 1);
    if !create(lake, &log_key(&table, manifest.version), manifest.to_json()).await? {
        return Err(Error::Lake {
            key: table.to_string(),
            message: format!(
                "version {} was committed by another writer meanwhile",
                manifest.version
            ),
        });
    }
    if previous.is_some() {
        match lake
            .store()
            .delete(&table.key().join(LEGACY_MANIFEST_FILE))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Err(e) = super::delta::publish(lake, previous.as_ref(), &manifest).await {
        // The table is committed; only other engines' view lags, and the
        // next commit writes what is missing.
        tracing::warn!(table = %table, error = %e, "Delta log not written");
    }
    Ok(manifest)
}

/// What a vacuum removed from one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vacuumed {
    /// The table.
    pub table: Option<TableId>,
    /// Versions expired.
    pub versions: Vec<u64>,
    /// Data files deleted (no kept version lists them).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Expires the versions of `table` that `retention` no longer keeps, then
/// deletes every file in its folder that no kept version lists (those of
/// expired versions, and those a killed run wrote but never committed).
/// The caller holds the lake's lock, so no writer's files are in flight.
pub async fn vacuum(
    lake: &Lake,
    table: &TableId,
    retention: Retention,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vacuumed> {
    let all = history(lake, table).await?;
    let mut out = Vacuumed {
        table: Some(table.clone()),
        ..Default::default()
    };
    if all.is_empty() {
        return Ok(out);
    }
    let n = all.len();
    let mut keep: BTreeSet<u64> = BTreeSet::new();
    for (i, m) in all.iter().enumerate() {
        let among_latest = (n - i) as u64 <= retention.versions.max(1);
        // A version stops being current when the next one is committed.
        let replaced_recently = all.get(i + 1).is_some_and(|next| {
            chrono::DateTime::parse_from_rfc3339(&next.written_at)
                .map(|t| {
                    now.signed_duration_since(t).to_std().unwrap_or_default() < retention.keep_for
                })
                .unwrap_or(true)
        });
        if among_latest || replaced_recently || i + 1 == n {
            keep.insert(m.version);
        }
    }
    let dir = table.key();
    let listed: HashSet<String> = all
        .iter()
        .filter(|m| keep.contains(&m.version))
        .flat_map(|m| m.files.iter().map(|f| format!("{dir}/{}", f.key)))
        .collect();
    // The log entry first: a reader that finds its version's entry gone
    // reports it, rather than reading a folder whose files are going.
    for m in all.iter().filter(|m| !keep.contains(&m.version)) {
        match lake.store().delete(&log_key(table, m.version)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        out.versions.push(m.version);
    }
    let bookkeeping = |key: &str| {
        let rel = key.strip_prefix(&format!("{dir}/")).unwrap_or(key);
        rel.starts_with('_') || rel.starts_with('.')
    };
    let doomed: Vec<(Path, u64)> = lake
        .store()
        .list(Some(&dir))
        .try_filter_map(|m| {
            let key = m.location.to_string();
            let drop = !listed.contains(&key) && !bookkeeping(&key);
            async move { Ok(drop.then_some((m.location, m.size))) }
        })
        .try_collect()
        .await?;
    for (key, size) in doomed {
        match lake.store().delete(&key).await {
            Ok(()) => {
                out.files += 1;
                out.bytes += size;
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The input versions a table was built from that are no longer current:
/// `(input, built from, current)`. Empty when it is up to date.
pub fn stale_inputs(
    m: &TableManifest,
    current: &BTreeMap<String, u64>,
) -> Vec<(String, u64, Option<u64>)> {
    m.inputs
        .iter()
        .filter_map(|(t, &built)| match current.get(t) {
            Some(&now) if now == built => None,
            now => Some((t.clone(), built, now.copied())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LakeRoot, S3Env};
    use crate::lake::manifest::{DataFile, Format};

    fn manifest(table: &TableId, run: &str, at: &str, files: &[&str]) -> TableManifest {
        TableManifest {
            table: table.clone(),
            format: Format::Csv,
            partition_by: vec![],
            hidden_partition_by: vec![],
            columns: vec![],
            files: files
                .iter()
                .map(|k| DataFile {
                    key: k.to_string(),
                    rows: 1,
                    bytes: 1,
                    sha256: String::new(),
                    run_id: None,
                })
                .collect(),
            rows: files.len() as u64,
            bytes: files.len() as u64,
            run_id: run.into(),
            written_at: at.into(),
            model: "m".into(),
            version: 0,
            file_tag: run.into(),
            inputs: BTreeMap::new(),
            restored_from: None,
            source_position: None,
            totals: Default::default(),
            definition: String::new(),
        }
    }

    async fn put_file(lake: &Lake, table: &TableId, key: &str) {
        lake.store()
            .put(&Path::from(format!("{}/{key}", table.key())), "x".into())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn versions_are_numbered_kept_and_expired() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&LakeRoot::Local(dir.path().into()), &S3Env::default()).unwrap();
        let t = TableId::parse("raw.t").unwrap();
        for (i, at) in [
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00Z",
            "2026-01-01T02:00:00Z",
        ]
        .iter()
        .enumerate()
        {
            let key = format!("part.{i}.csv");
            put_file(&lake, &t, &key).await;
            let m = commit(&lake, manifest(&t, &i.to_string(), at, &[&key]))
                .await
                .unwrap();
            assert_eq!(m.version, i as u64);
        }
        // A killed run's file, never committed.
        put_file(&lake, &t, "part.killed.csv").await;
        assert_eq!(current(&lake, &t).await.unwrap().unwrap().version, 2);
        assert_eq!(at(&lake, &t, 1).await.unwrap().files[0].key, "part.1.csv");
        let e = at(&lake, &t, 7).await.unwrap_err().to_string();
        assert!(e.contains("latest is 2"), "{e}");

        let when = chrono::DateTime::parse_from_rfc3339("2026-01-01T01:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(as_of(&lake, &t, when).await.unwrap().version, 1);

        // Version 1 was replaced 30 minutes before `now`: kept for an hour.
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T02:30:00Z")
            .unwrap()
            .to_utc();
        let keep_one = Retention {
            versions: 1,
            keep_for: std::time::Duration::from_secs(3600),
        };
        let v = vacuum(&lake, &t, keep_one, now).await.unwrap();
        assert_eq!(v.versions, vec![0]);
        assert_eq!(v.files, 2, "version 0's file and the killed run's");
        assert!(is_kept(&lake, &t, 1).await.unwrap());
        assert!(!is_kept(&lake, &t, 0).await.unwrap());
        let e = at(&lake, &t, 0).await.unwrap_err().to_string();
        assert!(
            e.contains("no longer kept") && e.contains("oldest kept is 1"),
            "{e}"
        );
        let later = now + chrono::Duration::hours(2);
        let v = vacuum(&lake, &t, keep_one, later).await.unwrap();
        assert_eq!(v.versions, vec![1]);
        assert_eq!(
            current(&lake, &t).await.unwrap().unwrap().files[0].key,
            "part.2.csv"
        );
        assert!(dir.path().join("raw/t/part.2.csv").exists());
        assert!(!dir.path().join("raw/t/part.1.csv").exists());
    }

    #[tokio::test]
    async fn a_table_from_before_versions_is_version_0_until_its_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&LakeRoot::Local(dir.path().into()), &S3Env::default()).unwrap();
        let t = TableId::parse("raw.t").unwrap();
        let old = manifest(&t, "old", "2026-01-01T00:00:00Z", &["part-00000.csv"]);
        lake.store()
            .put(&t.key().join(LEGACY_MANIFEST_FILE), old.to_json().into())
            .await
            .unwrap();
        assert_eq!(current(&lake, &t).await.unwrap().unwrap().run_id, "old");
        assert!(is_kept(&lake, &t, 0).await.unwrap());
        let m = commit(
            &lake,
            manifest(&t, "new", "2026-01-02T00:00:00Z", &["part-00000.new.csv"]),
        )
        .await
        .unwrap();
        assert_eq!(m.version, 1);
        assert_eq!(at(&lake, &t, 0).await.unwrap().run_id, "old");
        assert!(!dir.path().join("raw/t").join(LEGACY_MANIFEST_FILE).exists());
    }

    #[test]
    fn a_table_is_stale_when_an_input_moved_on() {
        let t = TableId::parse("silver.s").unwrap();
        let mut m = manifest(&t, "r", "t", &[]);
        m.inputs = BTreeMap::from([("bronze.b".into(), 3), ("bronze.c".into(), 1)]);
        let now = BTreeMap::from([("bronze.b".into(), 4), ("bronze.c".into(), 1)]);
        assert_eq!(
            stale_inputs(&m, &now),
            vec![("bronze.b".to_string(), 3, Some(4))]
        );
        let same = BTreeMap::from([("bronze.b".into(), 3), ("bronze.c".into(), 1)]);
        assert!(stale_inputs(&m, &same).is_empty());
    }
}
