//! Strata moves a legacy PostgreSQL sales database into a medallion lake
//! (raw, bronze, silver, gold) and keeps it queryable with SQL.
//!
//! The modules follow the data's path: [`source`] (the legacy system as SQL
//! tables) -> [`engine`] (one DataFusion session over source and lake) ->
//! [`models`] and [`runner`] (the SQL files in `queries/` and running them) ->
//! [`lake`] (files, manifests, atomic swaps) -> [`cli`].

pub mod bench;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod fixtures;
pub mod ingest;
pub mod lake;
pub mod metadata;
pub mod models;
pub mod pgcsv;
pub mod report;
pub mod runner;
pub mod source;
