//! `strata watch`: waits for files in the landing zone and lands them.
//!
//! Local disk events come from the `notify` crate (inotify on Linux); they
//! only wake the loop, which then lists the landing zone: the listing, not
//! the event stream, says what is there, so a missed or doubled event costs
//! nothing. Polling is the fallback (`--poll`, or when events are not
//! available). A burst of files is debounced into one pass and one rebuild.

use std::collections::BTreeMap;
use std::time::Duration;

use object_store::path::Path;

use super::{Landed, pending};
use crate::error::Result;
use crate::lake::Lake;

/// How the loop learns that something changed.
pub enum Wakeup {
    /// File-system events, via `notify`.
    Events {
        /// Holds the watch open.
        _watcher: notify::RecommendedWatcher,
        /// Signals one event (or more).
        rx: tokio::sync::mpsc::UnboundedReceiver<()>,
    },
    /// A timer.
    Poll(Duration),
}

impl Wakeup {
    /// Events on the local landing folder when possible, polling otherwise.
    pub fn new(lake: &Lake, poll: Option<Duration>) -> Self {
        let fallback = poll.unwrap_or(Duration::from_secs(2));
        if poll.is_some() {
            return Wakeup::Poll(fallback);
        }
        let Some(dir) = lake.local_path(super::LANDING_DIR) else {
            return Wakeup::Poll(fallback);
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!("cannot create {}: {e}; polling", dir.display());
            return Wakeup::Poll(fallback);
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            use notify::EventKind;
            use notify::event::ModifyKind;
            // Reads of the folder (opens, access times) are events too; only
            // what changes the set of files or their bytes matters.
            if let Ok(e) = event
                && matches!(
                    e.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(
                            ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any
                        )
                        | EventKind::Access(notify::event::AccessKind::Close(
                            notify::event::AccessMode::Write
                        ))
                )
            {
                let _ = tx.send(());
            }
        });
        match watcher.and_then(|mut w| {
            use notify::Watcher;
            w.watch(&dir, notify::RecursiveMode::Recursive).map(|()| w)
        }) {
            Ok(w) => Wakeup::Events { _watcher: w, rx },
            Err(e) => {
                tracing::warn!("file events unavailable ({e}); polling every {fallback:?}");
                Wakeup::Poll(fallback)
            }
        }
    }

    /// Waits for a change (or, with events, at most `max` as a safety net).
    pub async fn wait(&mut self, max: Duration) {
        match self {
            Wakeup::Events { rx, .. } => {
                let _ = tokio::time::timeout(max, rx.recv()).await;
            }
            Wakeup::Poll(every) => tokio::time::sleep(*every).await,
        }
    }

    /// Drains events until none came for `quiet` (or, with a producer that
    /// never pauses, for at most twenty times that).
    async fn settle(&mut self, quiet: Duration) {
        match self {
            Wakeup::Events { rx, .. } => {
                let limit = tokio::time::Instant::now() + quiet * 20;
                while tokio::time::Instant::now() < limit
                    && let Ok(Some(())) = tokio::time::timeout(quiet, rx.recv()).await
                {
                }
            }
            Wakeup::Poll(_) => tokio::time::sleep(quiet).await,
        }
    }

    /// A human name for the mechanism.
    pub fn describe(&self) -> String {
        match self {
            Wakeup::Events { .. } => "file events".into(),
            Wakeup::Poll(d) => format!("polling every {:.1}s", d.as_secs_f64()),
        }
    }
}

/// The landed files whose size held still over the debounce: a file still
/// being copied in waits for the next pass.
pub async fn stable(lake: &Lake, wakeup: &mut Wakeup, quiet: Duration) -> Result<Vec<Landed>> {
    let before: BTreeMap<Path, u64> = pending(lake)
        .await?
        .into_iter()
        .map(|l| (l.key, l.size))
        .collect();
    if before.is_empty() {
        return Ok(vec![]);
    }
    wakeup.settle(quiet).await;
    Ok(pending(lake)
        .await?
        .into_iter()
        .filter(|l| before.get(&l.key) == Some(&l.size))
        .collect())
}
