//! What Strata does, as calls a front end makes: build the lake as a
//! recorded run, land files, run a statement or a report, benchmark. The
//! command line ([`crate::cli`]) turns arguments into these calls and prints
//! what they return. Nothing here prints results; fired alerts and progress
//! reach the terminal as warnings and through [`crate::runner::Observer`].

pub mod bench;
pub mod build;
pub mod dashboard;
pub mod forecast;
pub mod recorded;
pub mod report;
pub mod statement;
pub mod sync;
pub mod verify;
pub mod versions;
pub mod watch;

use std::sync::Arc;

use crate::config::Config;
use crate::engine::Engine;
use crate::error::Result;
use crate::lake::Lake;
use crate::models::dag::Dag;

/// A project's settings and a session over its source and lake: what every
/// command that reads the lake works from.
pub struct Workspace {
    /// The settings.
    pub config: Config,
    /// The session: `legacy.*`, every lake table, and `meta.*`.
    pub engine: Engine,
}

impl Workspace {
    /// Opens the lake the settings name and a session over it.
    pub async fn open(config: Config) -> Result<Self> {
        let lake = Arc::new(Lake::open(&config.lake, &config.s3)?);
        Self::open_on(config, lake).await
    }

    /// A session over an already open lake. When the source cannot be
    /// opened, the session has an empty `legacy` schema and
    /// [`Engine::take_source_error`] says why.
    pub async fn open_on(config: Config, lake: Arc<Lake>) -> Result<Self> {
        let engine = Engine::open(&config, lake).await?;
        crate::metadata::tables::register(&engine)?;
        Ok(Workspace { config, engine })
    }

    /// The project's models and their dependencies, checked against what
    /// the session can read.
    pub fn dag(&self) -> Result<Dag> {
        dag(&self.config, &self.engine)
    }
}

/// The models of `config`'s project, checked against what `engine` can read.
pub(crate) fn dag(config: &Config, engine: &Engine) -> Result<Dag> {
    let models = crate::models::discover(&config.queries_dir)?;
    Dag::new(models, |table| {
        table
            .split_once('.')
            .is_some_and(|(s, t)| engine.has_table(s, t))
    })
}
