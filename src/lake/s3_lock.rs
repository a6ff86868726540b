//! The lake's write lock on S3, which has no file locks: the object
//! `_strata/lock`, created only if absent (a conditional PUT), naming its
//! holder; deleted when the holder is done. A lock left by a process that
//! died is taken over when its holder is provably gone (same host, process
//! not running) or after [`STALE_AFTER`].

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
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
    for _ in 0..2 {
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
            Ok(_) => {
                return Ok(LakeLock::S3(Held {
                    store: store.clone(),
                    key,
                }));
            }
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                let holder: Option<Holder> = match store.get(&key).await {
                    Ok(got) => serde_json::from_slice(&got.bytes().await?).ok(),
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                let stale = holder.as_ref().is_none_or(|h| {
                    (h.host == me.host && !crate::sys::alive(h.pid))
                        || chrono::DateTime::parse_from_rfc3339(&h.since).is_ok_and(|t| {
                            chrono::Utc::now() - t.with_timezone(&chrono::Utc) > STALE_AFTER
                        })
                });
                if stale {
                    tracing::warn!("taking over the lock of a dead run: {holder:?}");
                    store.delete(&key).await?;
                    continue;
                }
                let h = holder.expect("not stale, so read");
                return Err(Error::Locked(format!(
                    "{lake} (process {} on {} since {})",
                    h.pid, h.host, h.since
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Locked(lake.to_string()))
}
