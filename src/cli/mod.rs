//! The `syncwatch` command line: the argument types, one file per command, and the helpers they
//! share (loading the plan, exit codes, output formats). Each command calls the library, prints
//! and returns an exit code; `main.rs` only sets up logging and the runtime.

pub mod demo;
pub mod doctor;
pub mod incidents;
pub mod k8s;
pub mod oncall;
pub mod plan;
pub mod report;
pub mod retro;
pub mod run;
pub mod serve;
pub mod silence;
pub mod validate;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use syncwatch::config::{self, ConfigErrors, Plan};

/// Exit codes (CronJob mode): 0 ran, 1 at or above --fail-on, 2 runtime error, 78 bad configuration.
pub const EXIT_THRESHOLD: u8 = 1;
pub const EXIT_RUNTIME: u8 = 2;
pub const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "syncwatch",
    version,
    about = "Freshness and health checks for data syncs, on cron schedules, against partner databases.",
    after_help = "Exit codes: 0 all checks ran · 1 a check at or above --fail-on · 2 runtime error · 78 invalid configuration.\n\
                  Start with `syncwatch demo`, then `syncwatch validate`, `syncwatch plan` and `syncwatch run`."
)]
pub struct Cli {
    /// Settings file; its `checks_dir` (default `checks/`) is relative to it.
    #[arg(
        long,
        short,
        global = true,
        env = "SYNCWATCH_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Log level for messages on stderr (error, warn, info, debug, trace). `info` logs one line per check run.
    #[arg(
        long,
        global = true,
        env = "SYNCWATCH_LOG",
        default_value = "warn",
        value_name = "LEVEL"
    )]
    pub log_level: String,
    /// Log format: human-readable text, or one JSON object per line.
    #[arg(long, global = true, env = "SYNCWATCH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Connect to every source and show the server version, latency, session time zone,
    /// statement timeout, and whether syncwatch's role there could write.
    /// Exit 0 all good · 1 a source could write · 2 a source is unreachable.
    Doctor(doctor::Args),
    /// Run one tick: the checks that are due and the re-checks whose restart has settled (or
    /// --all / --only), record and respond, escalate, deliver the outbox, print the results.
    Run(run::Args),
    /// Run as a daemon: every check on its own schedule, the status page at /, /metrics,
    /// /healthz, /readyz, /api/checks, /api/incidents.
    /// SIGHUP or a changed configuration file reloads; SIGTERM/SIGINT drain runs in flight and exit 0.
    Serve(serve::Args),
    /// Load the settings and every check file; report all problems (exit 78) or a summary (exit 0).
    Validate(validate::Args),
    /// Show every check with its schedule, time zone and next run times.
    Plan(plan::Args),
    /// Silence checks for a while (maintenance): they still run and update metrics, but nothing
    /// is restarted or sent. `--list` shows silences; `--end ID` ends one early.
    Silence(silence::Args),
    /// Who is Prog Lead now (or at --at), who is secondary, and the next handoffs.
    Oncall(oncall::Args),
    /// Incidents (one per page): list, show with its timeline, acknowledge, resolve.
    Incidents(incidents::Args),
    /// A blameless retro draft for an incident: summary, impact window, time to acknowledge
    /// and resolve, the timeline, what automation did, action items, and prompts for the team.
    /// `--done [--doc URL]` marks it done; `--action TEXT --owner MEMBER [--due DATE]` assigns.
    Retro(retro::Args),
    /// Reports over the history: `report oncall` (how on-call is going), `report slo` (freshness
    /// objectives met or missed, error budget left).
    Report(report::Args),
    /// Action items from retros: `list` (open ones; --all for done too), `done N`.
    Actions(retro::ActionsArgs),
    /// Print Kubernetes manifests derived from the checks: `k8s render` writes the Role and
    /// RoleBinding per sync namespace that the restart targets need.
    K8s(k8s::Args),
    /// The whole story on a demo SQLite partner database: pass, warn, fail and error, a restart
    /// that fixes a sync, one that does not and pages the Prog Lead, the incident and its retro.
    Demo(demo::Args),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Runs the command; its exit code.
pub async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let path = settings_path(&cli.config);
    // Validate and demo load the configuration themselves.
    let command = match cli.command {
        Command::Validate(a) => return Ok(validate::run(a, &path)),
        Command::Demo(a) => return demo::run(a, &cli.config).await,
        other => other,
    };
    let plan = match load(&path) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    match command {
        Command::Doctor(a) => doctor::run(&plan, a.format == Format::Json).await,
        Command::Run(a) => run::run(a, plan).await,
        Command::Serve(a) => serve::run(a, path, plan).await,
        Command::Plan(a) => Ok(plan::run(a, &plan)),
        Command::Silence(a) => silence::run(a, plan).await,
        Command::Oncall(a) => Ok(oncall::run(a, &plan)),
        Command::Incidents(a) => incidents::run(a, plan).await,
        Command::Retro(a) => retro::run(a, plan).await,
        Command::Actions(a) => retro::actions(a, plan).await,
        Command::Report(a) => report::run(a, plan).await,
        Command::K8s(a) => Ok(k8s::run(a, &plan)),
        Command::Validate(_) | Command::Demo(_) => unreachable!("handled above"),
    }
}

/// The environment for `${VAR}` in the settings (with `SYNCWATCH_EXE`, see `config::process_env`).
pub fn env_lookup(name: &str) -> Option<String> {
    syncwatch::config::process_env(name)
}

fn settings_path(cli: &Option<PathBuf>) -> PathBuf {
    cli.clone()
        .unwrap_or_else(|| PathBuf::from("syncwatch.yaml"))
}

/// Loads the plan, or prints every problem and returns the exit code for bad configuration.
pub fn load(path: &Path) -> Result<Plan, u8> {
    config::load(path, &env_lookup).map_err(|errors: ConfigErrors| {
        eprintln!("{errors}");
        EXIT_CONFIG
    })
}

pub fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    if s.trim() == "0" || s.trim() == "0s" {
        return Ok(std::time::Duration::ZERO);
    }
    let d = syncwatch::duration::parse(s).map_err(|e| match e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message,
    })?;
    let (max, why) = syncwatch::duration::limit("");
    if d > max {
        return Err(format!(
            "is longer than {} ({why})",
            syncwatch::duration::canonical(max)
        ));
    }
    Ok(d)
}

pub fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}
