//! `strata serve`.

use super::Outcome;
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::config::serve::{parse_http, parse_listen};
use crate::error::Result;

/// Serves the lake until Ctrl-C.
pub async fn serve(mut config: Config, args: &ServeArgs) -> Result<Outcome> {
    if let Some(listen) = &args.listen {
        config.serve.listen = parse_listen(listen, "--listen")?;
    }
    if let Some(http) = &args.http {
        config.serve.http = parse_http(http, "--http")?;
    }
    let login = match &config.serve.password {
        Some(_) => format!("user {}, SCRAM password", config.serve.user),
        None => "no password (loopback only)".into(),
    };
    let tls = if config.serve.tls.is_some() {
        ", TLS"
    } else {
        ""
    };
    let lake = config.lake.to_string();
    crate::serve::serve(
        config,
        |at| {
            let addr = at.postgres;
            let http = match at.http {
                Some(h) => format!(
                    "; dashboard on {}://{h}/ (also /metrics, /health)",
                    if tls.is_empty() { "http" } else { "https" }
                ),
                None => String::new(),
            };
            // The line a script waits for: the addresses, the ports resolved.
            eprintln!(
                "strata serve: PostgreSQL protocol on {addr} ({login}{tls}), lake {lake}; \
                 psql -h {} -p {} strata{http}",
                addr.ip(),
                addr.port()
            );
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(Outcome::Success)
}
