//! Replacing a table with the version a run staged, all at once.
//!
//! On local disk the staged folder and the live folder are exchanged with one
//! `renameat2(RENAME_EXCHANGE)` call: at every instant the table's path holds
//! either the complete old version or the complete new one, and a run killed
//! at any point leaves one of the two. The old version, now in staging, is
//! deleted afterwards (or by the next run, which clears staging).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path as FsPath;

use object_store::path::Path;

use super::{Lake, LakeRoot, TableId};
use crate::error::{Error, Result};

/// Makes the table staged at `staged` the live version of `table`.
pub async fn commit(lake: &Lake, staged: &Path, table: &TableId) -> Result<()> {
    match lake.root() {
        LakeRoot::Local(root) => {
            let from = root.join(staged.as_ref());
            let to = root.join(table.key().as_ref());
            tokio::task::spawn_blocking(move || swap_local(&from, &to))
                .await
                .map_err(|e| Error::Lake {
                    key: table.to_string(),
                    message: format!("commit task failed: {e}"),
                })?
        }
    }
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
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            let aside = staged.with_extension("old");
            std::fs::rename(live, &aside).map_err(|e| Error::io(live, e))?;
            std::fs::rename(staged, live).map_err(|e| Error::io(live, e))?;
            std::fs::rename(&aside, staged).map_err(|e| Error::io(&aside, e))?;
        }
        Err(e) => return Err(Error::io(live, e)),
    }
    // `staged` now holds the previous version.
    std::fs::remove_dir_all(staged).map_err(|e| Error::io(staged, e))
}

fn exchange(a: &FsPath, b: &FsPath) -> std::io::Result<()> {
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both arguments are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
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
