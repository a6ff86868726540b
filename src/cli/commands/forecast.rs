//! `strata forecast`.

use comfy_table::{Cell, CellAlignment};

use super::{Outcome, open_lake, out};
use crate::app::forecast::{self, HOLDOUT, TABLE};
use crate::cli::ForecastArgs;
use crate::cli::print::new_table;
use crate::config::Config;
use crate::error::{Error, Result};

fn money(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("R$ {grouped}.{:02}", cents % 100)
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

/// Forecasts monthly sales, writes them to `gold.sales_forecast`, and
/// prints the total's months ahead and every series' backtest.
pub async fn forecast(config: Config, args: &ForecastArgs) -> Result<Outcome> {
    if args.months == 0 || args.months > 36 {
        return Err(Error::Config(format!(
            "--months {}: forecast 1 to 36 months ahead",
            args.months
        )));
    }
    let ws = open_lake(config).await?;
    let outlook = forecast::forecast(&ws, args.months).await?;
    crate::app::statement::execute(&ws, &forecast::table_sql(&outlook)).await?;

    let mut text = String::new();
    if let Some(m) = outlook.partial {
        text.push_str(&format!(
            "{} is left out of the fit: the data stops before its end.\n",
            m.format("%Y-%m")
        ));
    }
    let total = &outlook.series[0];
    text.push_str(&format!(
        "Total sales, the next {} months ({}):\n",
        args.months, total.method
    ));
    let mut t = new_table();
    t.set_header(["month", "forecast", "95% from", "95% to"]);
    for a in &total.ahead {
        t.add_row([
            Cell::new(a.month.format("%Y-%m")),
            right(money(a.cents)),
            right(money(a.lower)),
            right(money(a.upper)),
        ]);
    }
    text.push_str(&format!("{t}\n"));
    text.push_str(&format!(
        "Backtest: each series fitted without its last {HOLDOUT} months, its forecast for them \
         against what sold (sMAPE, lower is better):\n"
    ));
    let mut t = new_table();
    t.set_header(["series", "member", "model sMAPE", "seasonal naive sMAPE"]);
    for f in &outlook.series {
        let (model, naive) = match f.backtest {
            Some((m, n)) => (format!("{m:.1}%"), format!("{n:.1}%")),
            None => ("-".into(), "-".into()),
        };
        t.add_row([
            Cell::new(f.series),
            Cell::new(&f.member),
            right(model),
            right(naive),
        ]);
    }
    text.push_str(&format!("{t}\nWritten to {TABLE}.\n"));
    out(text)?;
    Ok(Outcome::Success)
}
