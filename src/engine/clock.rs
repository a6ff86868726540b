//! The session's clock: the instant `now()`, `current_date` and every value
//! Trino takes from the query's start (a TIME cast to a TIMESTAMP is on the
//! start's day) are read from.
//!
//! DataFusion stamps each statement with the time it is planned. Trino's
//! test server lets a session fix that start instead (its session property
//! `session_start_time`), which its own function tests rely on; Strata
//! offers the same, so a report or a test that asks for "today" can be
//! replayed as of a chosen instant:
//!
//! ```sql
//! SET SESSION session_start_time = '2020-04-30T23:34:56.111111111Z';
//! RESET SESSION session_start_time;   -- the clock again
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use datafusion::common::config::{ConfigExtension, ConfigField, Visit};
use datafusion::common::extensions_options;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::DataFrame;

/// A fixed start, or none (the clock's); set from an ISO 8601 instant,
/// and refused, leaving the setting as it was, when the text is not one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FixedStart(Option<DateTime<Utc>>);

impl FixedStart {
    /// The instant, when one is set.
    pub(crate) fn instant(&self) -> Option<DateTime<Utc>> {
        self.0
    }
}

impl ConfigField for FixedStart {
    fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
        match self.0 {
            Some(t) => v.some(
                key,
                t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                description,
            ),
            None => v.none(key, description),
        }
    }

    fn set(&mut self, _key: &str, value: &str) -> Result<()> {
        let text = value.trim();
        if text.is_empty() {
            self.0 = None;
            return Ok(());
        }
        let at = DateTime::parse_from_rfc3339(text).map_err(|e| {
            DataFusionError::Configuration(format!(
                "{SESSION_START_TIME} '{text}' is not an instant ({e}); \
                 write one as 2020-05-01T12:34:56.123Z or with an offset, +02:00"
            ))
        })?;
        self.0 = Some(at.with_timezone(&Utc));
        Ok(())
    }
}

extensions_options! {
    /// Strata's own session settings (`SET strata.<name> = ...`).
    pub struct SessionOptions {
        /// The instant each statement starts at, as an ISO 8601 instant
        /// (`2020-05-01T12:34:56Z`); empty: the clock's time.
        pub session_start_time: FixedStart, default = FixedStart::default()
    }
}

impl ConfigExtension for SessionOptions {
    const PREFIX: &'static str = "strata";
}

/// The Trino name of the setting, as `SET SESSION` and `RESET SESSION` take it.
pub(crate) const SESSION_START_TIME: &str = "session_start_time";

/// The start a session fixes, if any.
fn fixed_start(state: &SessionState) -> Option<DateTime<Utc>> {
    state
        .config()
        .options()
        .extensions
        .get::<SessionOptions>()
        .and_then(|o| o.session_start_time.instant())
}

/// `df` to run as of the session's fixed start, when it fixes one.
pub(crate) fn pinned(df: DataFrame) -> DataFrame {
    let (mut state, plan) = df.into_parts();
    if let Some(start) = fixed_start(&state) {
        state.execution_props_mut().query_execution_start_time = Some(start);
    }
    DataFrame::new(state, plan)
}

/// Trino's `SET SESSION session_start_time = '...'` and `RESET SESSION
/// session_start_time` in DataFusion's spelling; `None` for other text.
pub(crate) fn setting(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    let key = format!("{}.{SESSION_START_TIME}", SessionOptions::PREFIX);
    match &words[..] {
        [set, session, name, rest @ ..]
            if set.eq_ignore_ascii_case("SET")
                && session.eq_ignore_ascii_case("SESSION")
                && name.eq_ignore_ascii_case(SESSION_START_TIME) =>
        {
            let value = rest.join(" ");
            let value = value.trim_start_matches('=').trim();
            Some(format!("SET {key} = {value}"))
        }
        [reset, session, name]
            if reset.eq_ignore_ascii_case("RESET")
                && session.eq_ignore_ascii_case("SESSION")
                && name.eq_ignore_ascii_case(SESSION_START_TIME) =>
        {
            Some(format!("SET {key} = ''"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trino_spellings_set_and_reset_the_start() {
        assert_eq!(
            setting("SET SESSION session_start_time = '2020-04-30T23:34:56Z';").as_deref(),
            Some("SET strata.session_start_time = '2020-04-30T23:34:56Z'")
        );
        assert_eq!(
            setting("reset session SESSION_START_TIME").as_deref(),
            Some("SET strata.session_start_time = ''")
        );
        assert_eq!(setting("SET SESSION query_max_memory = '1GB'"), None);
        assert_eq!(setting("SELECT 1"), None);
    }
}
