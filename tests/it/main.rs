//! Strata's integration tests, one binary (as ripgrep has it): each module
//! is a specification of one area, run against the real `strata` binary, a
//! real PostgreSQL server and a real S3-compatible server on loopback.
//! One binary links DataFusion once instead of once per file.

mod common;

mod ballista;
mod catalog;
mod conformance;
mod dashboard;
mod examples;
mod failures;
mod forecast;
mod lake;
mod meta;
mod postgres;
mod repl;
mod s3;
mod serve;
mod slt;
mod sql;
mod sync;
mod verify;
mod versions;
mod watch;
