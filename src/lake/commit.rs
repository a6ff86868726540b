//! Replacing a table with the version a run staged, all at once.
//!
//! On local disk the staged folder and the live folder are exchanged with one
//! `renameat2(RENAME_EXCHANGE)` call: at every instant the table's path holds
//! either the complete old version or the complete new one, and a run killed
//! at any point leaves one of the two. The old version, now in staging, is
//! deleted afterwards (or by the next run, which clears staging).
//!
//! On S3, which cannot rename, the manifest is the switch (see
//! [`commit_s3`](self)): how that differs is in the README.

use std::path::Path as FsPath;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::manifest::{MANIFEST_FILE, TableManifest};
use super::{Lake, LakeRoot, TableId};
use crate::error::{Error, Result};

/// Makes the table staged at `staged` (its files written, its manifest
/// given) the live version of `table`; returns the manifest as committed.
pub async fn commit(
    lake: &Lake,
    staged: &Path,
    table: &TableId,
    manifest: TableManifest,
) -> Result<TableManifest> {
    match lake.root() {
        LakeRoot::Local(root) => {
            lake.store()
                .put(
                    &staged.clone().join(MANIFEST_FILE),
                    manifest.to_json().into(),
                )
                .await?;
            let from = root.join(staged.as_ref());
            let to = root.join(table.key().as_ref());
            tokio::task::spawn_blocking(move || swap_local(&from, &to))
                .await
                .map_err(|e| Error::Lake {
                    key: table.to_string(),
                    message: format!("commit task failed: {e}"),
                })??;
            Ok(manifest)
        }
        LakeRoot::S3 { .. } => commit_s3(lake, staged, table, manifest).await,
    }
}

/// The key a run's file takes in an S3 table: the run id before the
/// extension, so a new version's files never overwrite the old version's.
fn versioned(key: &str, run_id: &str) -> String {
    match key.rsplit_once('.') {
        Some((stem, ext)) if !stem.ends_with(&format!(".{run_id}")) => {
            format!("{stem}.{run_id}.{ext}")
        }
        _ => key.to_string(),
    }
}

/// S3 has no rename, so no single step can swap a folder. The order makes
/// the manifest the switch: (1) the new files are copied beside the old ones
/// under new names, (2) the manifest is replaced (one PUT: readers of the
/// manifest see the old or the new version whole), (3) the old files are
/// deleted. A reader listing the folder (Athena, Strata's own tables) sees
/// both versions only between (1) and (3), for the duration of one table's
/// commit; a run killed there leaves extra files that the next run removes
/// before writing anything (see [`remove_unlisted`]). A run that fails
/// before its commit leaves the table untouched.
async fn commit_s3(
    lake: &Lake,
    staged: &Path,
    table: &TableId,
    mut manifest: TableManifest,
) -> Result<TableManifest> {
    let store = lake.store();
    let live = lake.manifest(table).await?;
    let unchanged = |f: &super::manifest::DataFile| {
        live.as_ref().is_some_and(|m| {
            m.files
                .iter()
                .any(|o| o.key == f.key && o.sha256 == f.sha256 && !f.sha256.is_empty())
        })
    };
    let copies: Vec<_> = manifest
        .files
        .iter_mut()
        .filter_map(|f| {
            let from = Path::from(format!("{staged}/{}", f.key));
            if unchanged(f) {
                // Carried over as it is (landed files): already in place.
                return None;
            }
            f.key = versioned(&f.key, &manifest.run_id);
            Some((from, Path::from(format!("{}/{}", table.key(), f.key))))
        })
        .collect();
    // Bounded concurrency: S3 copies are server-side, but not free.
    futures::stream::iter(copies)
        .map(|(from, to)| async move { store.copy(&from, &to).await })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    manifest.files.sort_by(|a, b| a.key.cmp(&b.key));
    store
        .put(&table.key().join(MANIFEST_FILE), manifest.to_json().into())
        .await?;
    remove_unlisted(lake, &manifest).await?;
    lake.delete_prefix(staged).await?;
    Ok(manifest)
}

/// Deletes the objects in a table's folder that its manifest does not list
/// (a killed commit's, or the version a commit replaced).
pub async fn remove_unlisted(lake: &Lake, manifest: &TableManifest) -> Result<()> {
    let dir = manifest.table.key();
    let listed: std::collections::HashSet<String> = manifest
        .files
        .iter()
        .map(|f| format!("{dir}/{}", f.key))
        .chain(std::iter::once(format!("{dir}/{MANIFEST_FILE}")))
        .collect();
    let extra: Vec<Path> = lake
        .store()
        .list(Some(&dir))
        .try_filter_map(|m| {
            let keep = listed.contains(m.location.as_ref());
            async move { Ok((!keep).then_some(m.location)) }
        })
        .try_collect()
        .await?;
    futures::stream::iter(extra)
        .map(|k| async move {
            match lake.store().delete(&k).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

fn swap_local(staged: &FsPath, live: &FsPath) -> Result<()> {
    if let Some(parent) = live.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if !live.exists() {
        return std::fs::rename(staged, live).map_err(|e| Error::io(live, e));
    }
    match exchange(staged, live) {
        Ok(()) => {}
        // Filesystems without RENAME_EXCHANGE: move the old version aside,
        // then the new one in. The table is briefly absent, never mixed.
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            let aside = staged.with_extension("old");
            std::fs::rename(live, &aside).map_err(|e| Error::io(live, e))?;
            std::fs::rename(staged, live).map_err(|e| Error::io(live, e))?;
            std::fs::rename(&aside, staged).map_err(|e| Error::io(&aside, e))?;
        }
        Err(e) => return Err(Error::io(live, e.into())),
    }
    // `staged` now holds the previous version.
    std::fs::remove_dir_all(staged).map_err(|e| Error::io(staged, e))
}

fn exchange(a: &FsPath, b: &FsPath) -> rustix::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_replaces_the_whole_folder() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("gold/t");
        let staged = dir.path().join("_strata/staging/r/gold/t");
        std::fs::create_dir_all(&live).unwrap();
        std::fs::write(live.join("old-only.parquet"), "old").unwrap();
        std::fs::write(live.join("both.parquet"), "old").unwrap();
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join("both.parquet"), "new").unwrap();

        swap_local(&staged, &live).unwrap();

        assert!(!live.join("old-only.parquet").exists());
        assert_eq!(
            std::fs::read_to_string(live.join("both.parquet")).unwrap(),
            "new"
        );
        assert!(!staged.exists());
    }

    #[test]
    fn first_commit_creates_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("raw/t");
        let staged = dir.path().join("s/t");
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join("a.csv"), "x").unwrap();
        swap_local(&staged, &live).unwrap();
        assert!(live.join("a.csv").exists());
    }
}
