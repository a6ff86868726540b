//! `strata fixtures`.

use indicatif::HumanCount;

use super::Outcome;
use crate::cli::FixturesArgs;
use crate::error::{Error, Result};
use crate::fixtures::{FixtureSpec, write_fixture};

/// Writes a generated legacy CSV.
pub fn fixtures(args: &FixturesArgs) -> Result<Outcome> {
    let spec = FixtureSpec {
        sales: args.sales,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let stats = if args.out.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        write_fixture(spec, &mut out).map_err(|e| Error::io("stdout", e))?
    } else {
        if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // Written aside and renamed, so an interrupted run never leaves a
        // truncated file under the real name.
        let tmp = args.out.with_extension("csv.partial");
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let stats = write_fixture(spec, &mut out).map_err(|e| Error::io(&tmp, e))?;
        drop(out);
        std::fs::rename(&tmp, &args.out).map_err(|e| Error::io(&args.out, e))?;
        stats
    };
    eprintln!(
        "wrote {} rows ({} sales, {} duplicates, {} bad dates) to {} in {:.2}s",
        HumanCount(stats.rows),
        HumanCount(stats.sales),
        HumanCount(stats.duplicates),
        stats.bad_dates,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Success)
}
