//! `strata seed`.

use indicatif::HumanCount;

use super::{Outcome, out};
use crate::cli::SeedArgs;
use crate::config::{Config, SourceSpec};
use crate::error::{Error, Result};
use crate::fixtures::FixtureSpec;
use crate::source::postgres::{connect, seed};

/// Creates the legacy database and loads `public.sales`.
pub async fn seed(config: &Config, args: &SeedArgs) -> Result<Outcome> {
    let url = match (&args.database_url, &config.source, &config.database_url) {
        (Some(url), _, _) => url.clone(),
        (None, SourceSpec::Postgres(url), _) => url.clone(),
        (None, _, Some(url)) => url.clone(),
        (None, _, None) => {
            return Err(Error::Config(
                "strata seed needs a database: --database-url postgres://... or DATABASE_URL"
                    .into(),
            ));
        }
    };
    let connector = connect::PgConnector::new(&url, &config.pg_env)?;
    let data = match (&args.csv, args.sales) {
        (Some(csv), _) => seed::SeedData::Csv(csv.clone()),
        (None, Some(sales)) => seed::SeedData::Generated(FixtureSpec {
            sales,
            seed: args.seed,
        }),
        (None, None) => seed::SeedData::Csv(config.project_dir.join(crate::config::DEFAULT_SOURCE)),
    };
    let seeded = seed::seed(&connector, data, args.replace).await?;
    out(format!(
        "{}loaded {} rows into {} public.sales in {:.2}s ({:.0} rows/s)\n",
        if seeded.created_database {
            "created the database; "
        } else {
            ""
        },
        HumanCount(seeded.rows),
        connector.describe(),
        seeded.seconds,
        seeded.rows as f64 / seeded.seconds.max(1e-9)
    ))?;
    Ok(Outcome::Success)
}
