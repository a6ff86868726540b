//! Strata moves a legacy PostgreSQL sales database into a medallion lake
//! (raw, bronze, silver, gold) and keeps it queryable with SQL.
//!
//! # Where things live
//!
//! The modules follow the data's path, and imports run one way along it: a
//! module uses only modules above it in this list (the test
//! `imports_run_one_way` reads every `crate::` path and holds the code to
//! it). Modules on one line do not import each other.
//!
//! 1. [`sys`]: the machine (time stamps, process and host checks).
//! 2. [`error`]: the one error type and its kinds.
//! 3. [`pgcsv`]: PostgreSQL's CSV dialect, read and written.
//! 4. [`fixtures`]: generated legacy data of the contract's shape.
//! 5. [`config`]: settings, resolved once (flags > environment > file).
//! 6. [`lake`]: storage only: tables' files, manifests, commits, the lock.
//! 7. [`source`]: the legacy system as SQL tables (`legacy.*`).
//! 8. [`testing`]: a throwaway PostgreSQL server for tests and benchmarks.
//! 9. [`engine`]: the DataFusion session, its catalog and SQL functions.
//! 10. [`models`]: the SQL files of `queries/` and their dependencies;
//!     [`cluster`]: the engine as a Ballista scheduler or executor process.
//! 11. [`runner`], [`ingest`]: building models; landing files.
//! 12. [`metadata`]: the lake's records of itself (`meta.*`), metrics, alerts.
//! 13. [`app`]: what a command does: recorded runs, statements, reports, bench.
//! 14. [`serve`]: the lake over the network (PostgreSQL's wire protocol).
//! 15. [`cli`]: arguments in, one call into `app` or `serve`, output printed.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod error;
pub(crate) mod fixtures;
pub mod ingest;
pub mod lake;
pub mod metadata;
pub mod models;
pub(crate) mod pgcsv;
pub mod runner;
pub mod serve;
pub mod source;
pub mod sys;
pub mod testing;

/// The import order of the module doc above, as data: a module may import
/// those of a lower rank only.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["sys"],
    &["error"],
    &["pgcsv"],
    &["fixtures"],
    &["config"],
    &["lake"],
    &["source"],
    &["testing"],
    &["engine"],
    &["models", "cluster"],
    &["runner", "ingest"],
    &["metadata"],
    &["app"],
    &["serve"],
    &["cli"],
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    fn rank(module: &str) -> Option<usize> {
        super::LAYERS.iter().position(|l| l.contains(&module))
    }

    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Every `crate::x` path in the sources, by the module it appears in.
    #[test]
    fn imports_run_one_way() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![];
        sources(&src, &mut files);
        let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut checked = 0;
        for file in files {
            let rel = file.strip_prefix(&src).unwrap();
            let first = rel.iter().next().unwrap().to_string_lossy();
            let module = first.trim_end_matches(".rs");
            if module == "lib" || module == "main" {
                continue;
            }
            let own = rank(module)
                .unwrap_or_else(|| panic!("src/{} is in no layer of lib.rs", rel.display()));
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (at, _) in code.match_indices("crate::") {
                    // `strata::crate::` does not occur; skip `$crate::`.
                    if code[..at].ends_with('$') {
                        continue;
                    }
                    let rest = &code[at + "crate::".len()..];
                    let used: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    checked += 1;
                    if used == module {
                        continue;
                    }
                    let ok = rank(&used).is_some_and(|r| r < own);
                    if !ok {
                        wrong
                            .entry(format!("{module} -> {used}"))
                            .or_default()
                            .push(format!("src/{}:{}", rel.display(), n + 1));
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} crate:: paths found");
        assert!(
            wrong.is_empty(),
            "imports against the order in lib.rs:\n{}",
            wrong
                .iter()
                .map(|(k, v)| format!("  {k}: {}", v.join(", ")))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
