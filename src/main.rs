//! The `syncwatch` binary: parses the command line, sets up logging and the runtime, and hands
//! over to `cli::dispatch`. Every command lives in `src/cli/`.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

mod cli;

use cli::{Cli, Command, LogFormat, EXIT_RUNTIME};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    // Library chatter (sqlx's notices and slow-statement warnings) stays out unless asked for
    // by name: syncwatch reports a slow or failing query in the check's own line.
    let directives = if cli.log_level.contains("sqlx") {
        cli.log_level.clone()
    } else {
        format!("{},sqlx=error", cli.log_level)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let code = match runtime.block_on(cli::dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    };
    // A configuration still being parsed when SIGTERM came is abandoned, not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

/// `syncwatch … | head` ends quietly when `head` closes the pipe, as other command-line tools
/// do, instead of panicking on the next print. (Rust ignores SIGPIPE; this restores the
/// default for the one-shot commands. The daemon keeps ignoring it.)
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at start, before any other thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
