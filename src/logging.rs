//! Log output. Phone numbers appear only masked (`PhoneNumber`'s Display masks), message
//! bodies never; other crates are kept at `warn` so their logs cannot carry either.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn,apalis=warn,apalis_core=warn,apalis_sqlite=warn,\
                              apalis_postgres=warn,hyper=warn,reqwest=warn,tower_http=warn";

/// Sets up logging for the process (`RUST_LOG` overrides the default filter).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or journal gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // Already set (e.g. by a test harness): keep the existing one.
    let _ = result;
}
