//! The lake's write lock on S3, which has no file locks: the object
//! `_strata/lock`, created only if absent (a conditional PUT), naming its
//! holder; deleted when the holder is done. A lock left by a process that
//! died is taken over when its holder is provably gone (same host, process
//! not running) or after [`STALE_AFTER`], by overwriting it only if it is
//! still the very lock that was judged stale (a PUT conditional on its
//! ETag): two processes that both judge it stale cannot both win, and
//! neither can delete a lock the other has just taken.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use super::{LakeLock, META_DIR};
use crate::error::{Error, Result};

/// A lock older than this is taken to be a dead run's.
const STALE_AFTER: chrono::Duration = chrono::Duration::hours(6);

#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    host: String,
    pid: u32,
    since: String,
}

/// The held lock; dropping it deletes the object.
#[derive(Debug)]
pub struct Held {
    store: Arc<dyn ObjectStore>,
    key: Path,
}

impl Drop for Held {
    fn drop(&mut self) {
        let (store, key) = (self.store.clone(), self.key.clone());
        let release = async move {
            if let Err(e) = store.delete(&key).await {
                tracing::warn!("could not release the lake lock {key}: {e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(release));
            }
            Ok(h) => {
                h.spawn(release);
            }
            Err(_) => {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(release);
                }
            }
        }
    }
}

/// Takes the lock, or says who holds it.
pub async fn acquire(store: &Arc<dyn ObjectStore>, lake: &str) -> Result<LakeLock> {
    let key = Path::from(format!("{META_DIR}/lock"));
    let me = Holder {
        host: crate::sys::host(),
        pid: std::process::id(),
        since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let body = serde_json::to_vec(&me).expect("holders serialize");
    let held = || {
        Ok(LakeLock::S3(Held {
            store: store.clone(),
            key: key.clone(),
        }))
    };
    for _ in 0..3 {
        let put = store
            .put_opts(
                &key,
                PutPayload::from(body.clone()),
                PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                },
            )
            .await;
        match put {
            Ok(_) => return held(),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                let got = match store.get(&key).await {
                    Ok(got) => got,
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                let seen = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let holder: Option<Holder> = serde_json::from_slice(&got.bytes().await?).ok();
                let stale = holder.as_ref().is_none_or(|h| {
                    (h.host == me.host && !crate::sys::alive(h.pid))
                        || chrono::DateTime::parse_from_rfc3339(&h.since).is_ok_and(|t| {
                            chrono::Utc::now() - t.with_timezone(&chrono::Utc) > STALE_AFTER
                        })
                });
                if !stale {
                    let h = holder.expect("not stale, so read");
                    return Err(Error::Locked(format!(
                        "{lake} (process {} on {} since {})",
                        h.pid, h.host, h.since
                    )));
                }
                tracing::warn!("taking over the lock of a dead run: {holder:?}");
                if take_over(store, &key, seen, &body).await? {
                    return held();
                }
                // Another process took it over first: look again.
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Locked(lake.to_string()))
}

/// Replaces the lock at `key` with `body` only if it is still the version
/// `seen`. False when it changed or went away meanwhile.
async fn take_over(
    store: &Arc<dyn ObjectStore>,
    key: &Path,
    seen: UpdateVersion,
    body: &[u8],
) -> Result<bool> {
    let put = store
        .put_opts(
            key,
            PutPayload::from(body.to_vec()),
            PutOptions {
                mode: PutMode::Update(seen),
                ..Default::default()
            },
        )
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn dead_holder() -> Vec<u8> {
        serde_json::to_vec(&Holder {
            host: crate::sys::host(),
            pid: i32::MAX as u32,
            since: "2020-01-01T00:00:00Z".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn two_takeovers_of_one_stale_lock_cannot_both_win() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let key = Path::from(format!("{META_DIR}/lock"));
        store.put(&key, dead_holder().into()).await.unwrap();
        // Both processes read the same stale lock ...
        let meta = store.head(&key).await.unwrap();
        let seen = UpdateVersion {
            e_tag: meta.e_tag,
            version: meta.version,
        };
        // ... the first takes it over, the second's overwrite is refused.
        assert!(
            take_over(&store, &key, seen.clone(), b"first")
                .await
                .unwrap()
        );
        assert!(!take_over(&store, &key, seen, b"second").await.unwrap());
        let now = store.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(&now[..], b"first");
    }

    // Multi-threaded, as the binary runs: the lock is then released in drop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_run_s_lock_is_taken_over_and_a_live_one_refuses() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let key = Path::from(format!("{META_DIR}/lock"));
        store.put(&key, dead_holder().into()).await.unwrap();
        let lock = acquire(&store, "s3://b/lake").await.unwrap();
        let e = acquire(&store, "s3://b/lake")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("locked") && e.contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(lock);
        assert!(store.head(&key).await.is_err(), "released on drop");
    }
}
