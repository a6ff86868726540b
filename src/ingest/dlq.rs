//! The dead-letter place: files that could not be landed, each beside its
//! `.error.json` sidecar. Nothing here is deleted: a retry moves the file
//! back to the landing zone and renames its sidecar `.error.json.retried`.

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::{DEAD_LETTER_DIR, DeadLetter, LANDING_DIR};
use crate::error::{Error, Result};
use crate::lake::Lake;

const SIDECAR: &str = ".error.json";

/// Dead letters waiting (their sidecars counted).
pub async fn waiting(lake: &Lake) -> Result<u64> {
    let prefix = Path::from(DEAD_LETTER_DIR);
    let listed: Vec<_> = lake.store().list(Some(&prefix)).try_collect().await?;
    Ok(listed
        .iter()
        .filter(|m| m.location.as_ref().ends_with(SIDECAR))
        .count() as u64)
}

/// The dead letters waiting, oldest first.
pub async fn list(lake: &Lake) -> Result<Vec<DeadLetter>> {
    let prefix = Path::from(DEAD_LETTER_DIR);
    let listed: Vec<_> = lake.store().list(Some(&prefix)).try_collect().await?;
    let mut out = Vec::new();
    for m in listed {
        if !m.location.as_ref().ends_with(SIDECAR) {
            continue;
        }
        let bytes = lake.store().get(&m.location).await?.bytes().await?;
        let letter: DeadLetter = serde_json::from_slice(&bytes).map_err(|e| Error::Lake {
            key: m.location.to_string(),
            message: format!("unreadable dead-letter sidecar: {e}"),
        })?;
        out.push(letter);
    }
    out.sort_by(|a, b| {
        a.failed_at
            .cmp(&b.failed_at)
            .then(a.dead_letter_key.cmp(&b.dead_letter_key))
    });
    Ok(out)
}

/// Moves a dead letter (by its key, or a unique suffix of it such as its
/// file name) back to `landing/<table>/`, for the next pass to try again.
/// Returns the landing key.
pub async fn retry(lake: &Lake, key: &str) -> Result<String> {
    let letters = list(lake).await?;
    let matching: Vec<_> = letters
        .iter()
        .filter(|l| l.dead_letter_key == key || l.dead_letter_key.ends_with(&format!("/{key}")))
        .collect();
    let letter = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::Config(format!(
                "no dead letter {key:?} (`strata dlq list` shows them)"
            )));
        }
        many => {
            return Err(Error::Config(format!(
                "{key:?} matches {} dead letters; give the full key: {}",
                many.len(),
                many.iter()
                    .map(|l| l.dead_letter_key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let store = lake.store();
    let from = Path::from(letter.dead_letter_key.as_str());
    let to = Path::from(format!(
        "{LANDING_DIR}/{}/{}",
        letter.table_name, letter.file
    ));
    if store.head(&to).await.is_ok() {
        return Err(Error::Config(format!(
            "{to} exists already: the landing zone holds a file of that name"
        )));
    }
    super::move_object(store, &from, &to).await?;
    let sidecar = Path::from(format!("{}{SIDECAR}", letter.dead_letter_key));
    store
        .rename(&sidecar, &Path::from(format!("{sidecar}.retried")))
        .await?;
    Ok(to.to_string())
}
