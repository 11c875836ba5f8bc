//! The `syncwatch` command line: parses arguments, wires the library, maps results to exit codes.

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use syncwatch::clock::Clock;
use syncwatch::config::{self, ConfigErrors, Plan};
use syncwatch::metrics::Metrics;
use syncwatch::pass::Selection;
use syncwatch::verdict::Verdict;
use syncwatch::{app::App, daemon, demo, report};

mod cli;

/// Exit codes (CronJob mode): 0 ran, 1 at or above --fail-on, 2 runtime error, 78 bad configuration.
const EXIT_THRESHOLD: u8 = 1;
const EXIT_RUNTIME: u8 = 2;
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "syncwatch",
    version,
    about = "Freshness and health checks for data syncs, on cron schedules, against partner databases.",
    after_help = "Exit codes: 0 all checks ran · 1 a check at or above --fail-on · 2 runtime error · 78 invalid configuration.\n\
                  Start with `syncwatch demo`, then `syncwatch validate`, `syncwatch plan` and `syncwatch run`."
)]
struct Cli {
    /// Settings file; its `checks_dir` (default `checks/`) is relative to it.
    #[arg(
        long,
        short,
        global = true,
        env = "SYNCWATCH_CONFIG",
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    /// Log level for messages on stderr (error, warn, info, debug, trace). `info` logs one line per check run.
    #[arg(
        long,
        global = true,
        env = "SYNCWATCH_LOG",
        default_value = "warn",
        value_name = "LEVEL"
    )]
    log_level: String,
    /// Log format: human-readable text, or one JSON object per line.
    #[arg(long, global = true, env = "SYNCWATCH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to every source and show the server version, latency, session time zone,
    /// statement timeout, and whether syncwatch's role there could write.
    /// Exit 0 all good · 1 a source could write · 2 a source is unreachable.
    Doctor {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run one pass: the checks that are due (or --all / --only), record results, print them.
    Run {
        /// Run every check, due or not.
        #[arg(long, conflicts_with = "only")]
        all: bool,
        /// Run only these checks (repeat or comma-separate), due or not.
        #[arg(long, value_name = "NAME", value_delimiter = ',', num_args = 1..)]
        only: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Exit 1 when any check is at or above this verdict (pass < warn < fail < error). Default: never.
        #[arg(long, value_enum, value_name = "VERDICT")]
        fail_on: Option<FailOn>,
        /// After the pass, PUT its metrics to this Prometheus Pushgateway (e.g. http://pushgateway:9091).
        #[arg(long, env = "SYNCWATCH_PUSHGATEWAY", value_name = "URL")]
        push_gateway: Option<url::Url>,
        /// Run only shard I of N (a stable split by check name), for a CronJob with
        /// `completionMode: Indexed`. `--shard N` takes I from JOB_COMPLETION_INDEX.
        #[arg(long, env = "SYNCWATCH_SHARD", value_name = "I/N")]
        shard: Option<String>,
        /// The Pushgateway job (grouping key) to push under.
        #[arg(long, default_value = "syncwatch", value_name = "NAME", value_parser = job_name)]
        push_job: String,
    },
    /// Run as a daemon: every check on its own schedule, the status page at /, /metrics,
    /// /healthz, /readyz, /api/checks, /api/incidents.
    /// SIGHUP or a changed configuration file reloads; SIGTERM/SIGINT drain runs in flight and exit 0.
    Serve {
        /// Listen address (overrides `listen` in the settings; default 0.0.0.0:9187).
        #[arg(long, env = "SYNCWATCH_LISTEN", value_name = "HOST:PORT")]
        listen: Option<std::net::SocketAddr>,
        /// How long shutdown waits for checks in flight.
        #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = duration_arg)]
        grace: std::time::Duration,
        /// How often to look for changed configuration files; 0s watches SIGHUP only.
        #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = duration_arg)]
        watch_interval: std::time::Duration,
    },
    /// Load the settings and every check file; report all problems (exit 78) or a summary (exit 0).
    Validate {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show every check with its schedule, time zone and next run times.
    Plan {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// How many upcoming run times to show per check.
        #[arg(long, default_value_t = 3, value_name = "N")]
        next: usize,
    },
    /// Silence checks for a while (maintenance): they still run and update metrics, but nothing
    /// is restarted or sent. `--list` shows silences; `--end ID` ends one early.
    Silence {
        /// A check name, or a pattern with * wildcards (e.g. "van_*").
        #[arg(required_unless_present_any = ["list", "end"])]
        pattern: Option<String>,
        /// How long, e.g. 2h.
        #[arg(long = "for", value_name = "DURATION", value_parser = duration_arg, required_unless_present_any = ["list", "end"])]
        duration: Option<std::time::Duration>,
        /// Why (shown in output and logs).
        #[arg(long, required_unless_present_any = ["list", "end"])]
        reason: Option<String>,
        #[arg(long, conflicts_with_all = ["pattern", "end"])]
        list: bool,
        #[arg(long, value_name = "ID", conflicts_with = "pattern")]
        end: Option<i64>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Who is Prog Lead now (or at --at), who is secondary, and the next handoffs.
    Oncall {
        /// An instant: RFC 3339, or "YYYY-MM-DD HH:MM" in the rotation's time zone. Default: now.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// How many upcoming handoffs to list.
        #[arg(long, default_value_t = 4, value_name = "N")]
        weeks: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Incidents (one per page): list, show with its timeline, acknowledge, resolve.
    Incidents {
        #[command(subcommand)]
        what: IncidentsCommand,
    },
    /// A blameless retro draft for an incident: summary, impact window, time to acknowledge
    /// and resolve, the timeline, what automation did, and prompts for the team.
    Retro {
        /// The incident id (`syncwatch incidents list`).
        id: i64,
        #[arg(long, value_enum, default_value_t = RetroFormat::Md)]
        format: RetroFormat,
    },
    /// Print Kubernetes manifests derived from the checks: `k8s render` writes the Role and
    /// RoleBinding per sync namespace that the restart targets need.
    K8s {
        #[command(subcommand)]
        what: K8sCommand,
    },
    /// Create a demo SQLite partner database and run the example checks (pass, warn, fail, error).
    Demo {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// Open incidents, newest first (--all: resolved ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One incident and its timeline.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Acknowledge: stops the escalation to the secondary on-call, and tells every channel.
    Ack {
        id: i64,
        /// Who acknowledges. Default: $USER.
        #[arg(long)]
        by: Option<String>,
    },
    /// Resolve by hand, with a note; every channel told about the incident hears it.
    Resolve {
        id: i64,
        /// What was done (kept in the timeline and the retro).
        #[arg(long)]
        note: String,
        /// Who resolves. Default: $USER.
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RetroFormat {
    Md,
    Json,
}

#[derive(Subcommand)]
enum K8sCommand {
    /// RBAC for the restart targets: get and patch on exactly the Deployments named.
    Render {
        /// The service account syncwatch runs as.
        #[arg(long, default_value = "syncwatch")]
        service_account: String,
        /// Its namespace.
        #[arg(long, default_value = "syncwatch")]
        namespace: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    if s.trim() == "0" || s.trim() == "0s" {
        return Ok(std::time::Duration::ZERO);
    }
    syncwatch::duration::parse(s).map_err(|e| match e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message,
    })
}

fn job_name(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        Ok(s.to_string())
    } else {
        Err("use letters, digits, _ - .".into())
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Warn,
    Fail,
    Error,
}

impl FailOn {
    fn verdict(self) -> Verdict {
        match self {
            FailOn::Warn => Verdict::Warn,
            FailOn::Fail => Verdict::Fail,
            FailOn::Error => Verdict::Error,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        quiet_on_closed_pipe();
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
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
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn settings_path(cli: &Option<PathBuf>) -> PathBuf {
    cli.clone()
        .unwrap_or_else(|| PathBuf::from("syncwatch.yaml"))
}

/// Loads the plan, or prints every problem and returns the exit code for bad configuration.
fn load(path: &Path) -> Result<Plan, u8> {
    config::load(path, &env_lookup).map_err(|errors: ConfigErrors| {
        eprintln!("{errors}");
        EXIT_CONFIG
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Doctor { format } => match load(&settings_path(&cli.config)) {
            Ok(plan) => cli::doctor::run(&plan, format == Format::Json).await,
            Err(code) => Ok(code),
        },
        Command::Validate { format } => Ok(validate(&settings_path(&cli.config), format)),
        Command::Plan { format, next } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            print_plan(&plan, format, next);
            Ok(0)
        }
        Command::Silence {
            pattern,
            duration,
            reason,
            list,
            end,
            format,
        } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            silence(plan, pattern, duration, reason, list, end, format).await
        }
        Command::Incidents { what } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            incidents(plan, what).await
        }
        Command::Retro { id, format } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            retro(plan, id, format).await
        }
        Command::Oncall { at, weeks, format } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            Ok(oncall(&plan, at.as_deref(), weeks, format))
        }
        Command::K8s {
            what:
                K8sCommand::Render {
                    service_account,
                    namespace,
                },
        } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            print!(
                "{}",
                syncwatch::k8s::rbac(&plan, &service_account, &namespace)
            );
            Ok(0)
        }
        Command::Serve {
            listen,
            grace,
            watch_interval,
        } => {
            let path = settings_path(&cli.config);
            let plan = match load(&path) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            serve(path, plan, listen, grace, watch_interval).await
        }
        Command::Run {
            all,
            only,
            format,
            fail_on,
            push_gateway,
            push_job,
            shard,
        } => {
            let plan = match load(&settings_path(&cli.config)) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let sel = if all {
                Selection::All
            } else if !only.is_empty() {
                if let Err(msg) = known_names(&plan, &only) {
                    eprintln!("error: {msg}");
                    return Ok(EXIT_RUNTIME);
                }
                Selection::Only(only)
            } else {
                Selection::Due
            };
            let shard = match shard.as_deref().map(parse_shard).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: --shard: {e}");
                    return Ok(EXIT_RUNTIME);
                }
            };
            let push = push_gateway.map(|url| (url, push_job));
            run(
                plan,
                &sel,
                shard,
                format,
                fail_on.map(FailOn::verdict),
                push,
            )
            .await
        }
        Command::Demo { format } => {
            let plan = match &cli.config {
                Some(path) => load(path),
                None => demo::embedded_plan(&std::env::current_dir()?, &env_lookup).map_err(|e| {
                    eprintln!("{e}");
                    EXIT_CONFIG
                }),
            };
            let plan = match plan {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let db = demo::seed(&plan).await.map_err(anyhow::Error::msg)?;
            if format == Format::Table {
                println!(
                    "Demo partner database: {db}\nRunning {} example checks…\n",
                    plan.checks.len()
                );
            }
            let code = run(plan, &Selection::All, None, format, None, None).await?;
            if format == Format::Table {
                println!("Next: `syncwatch validate`, `syncwatch plan`, `syncwatch run --all`, or edit checks/*.yaml.");
            }
            Ok(code)
        }
    }
}

fn known_names(plan: &Plan, names: &[String]) -> Result<(), String> {
    let all: Vec<&str> = plan.checks.iter().map(|c| c.name.as_str()).collect();
    for n in names {
        if !all.contains(&n.as_str()) {
            let hint = config::diag::did_you_mean(n, all.iter().copied())
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_else(|| " (`syncwatch plan` lists the checks)".into());
            return Err(format!("no check named \"{n}\"{hint}"));
        }
    }
    Ok(())
}

/// `I/N`, or `N` with I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
fn parse_shard(s: &str) -> Result<syncwatch::shard::Shard, String> {
    if s.contains('/') {
        return syncwatch::shard::Shard::parse(s);
    }
    let index = std::env::var("JOB_COMPLETION_INDEX")
        .map_err(|_| format!("\"{s}\" needs JOB_COMPLETION_INDEX, or write I/N"))?;
    syncwatch::shard::Shard::parse(&format!("{index}/{s}"))
}

async fn run(
    plan: Plan,
    sel: &Selection,
    shard: Option<syncwatch::shard::Shard>,
    format: Format,
    fail_on: Option<Verdict>,
    push: Option<(url::Url, String)>,
) -> anyhow::Result<u8> {
    let app = App::build(plan).await.context("cannot start")?;
    let metrics = Metrics::new();
    let tick = match syncwatch::tick::once(app.clone(), sel, shard, &metrics, Utc::now()).await {
        Ok(t) => t,
        Err(e) => {
            app.close().await;
            return Err(anyhow::Error::new(e).context("pass failed"));
        }
    };
    let (report, drained) = (tick.pass, tick.drained);
    app.close().await;
    let pushed = match push {
        Some((url, job)) => {
            Some(syncwatch::metrics::push(&app.probes.http, &url, &job, metrics.render()).await)
        }
        None => None,
    };
    match format {
        Format::Table => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", report::pass_table(&report, &app.plan.checks, color));
        }
        Format::Json => {
            let mut doc = report::pass_json(&report, &app.plan.checks);
            doc["outbox"] = serde_json::json!({
                "delivered": drained.delivered, "retried": drained.retried,
                "gave_up": drained.gave_up, "pending": drained.pending,
            });
            println!("{doc:#}");
        }
    }
    if format == Format::Table
        && (drained.delivered + drained.retried + drained.gave_up > 0 || drained.pending > 0)
    {
        println!(
            "outbox: {} delivered, {} to retry, {} given up; {} waiting for the next run",
            drained.delivered, drained.retried, drained.gave_up, drained.pending
        );
    }
    if let Some(Err(e)) = pushed {
        eprintln!("error: {e}");
        return Ok(EXIT_RUNTIME);
    }
    if !report.store_errors.is_empty() {
        return Ok(EXIT_RUNTIME);
    }
    let tripped = fail_on.is_some_and(|f| report.worst().is_some_and(|w| w >= f));
    Ok(if tripped { EXIT_THRESHOLD } else { 0 })
}

async fn serve(
    path: PathBuf,
    plan: Plan,
    listen: Option<std::net::SocketAddr>,
    grace: std::time::Duration,
    watch_interval: std::time::Duration,
) -> anyhow::Result<u8> {
    let addr = listen.unwrap_or(plan.settings.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let app = App::build(plan).await.context("cannot start")?;
    eprintln!(
        "syncwatch serve: {} checks from {}; listening on http://{}",
        app.plan.checks.len(),
        path.display(),
        listener.local_addr()?
    );
    let opts = daemon::Options {
        watch_interval,
        grace,
    };
    daemon::serve(path, app, listener, Clock::System, opts, stop_signal()).await?;
    eprintln!("syncwatch serve: stopped");
    Ok(0)
}

async fn silence(
    plan: Plan,
    pattern: Option<String>,
    duration: Option<std::time::Duration>,
    reason: Option<String>,
    list: bool,
    end: Option<i64>,
    format: Format,
) -> anyhow::Result<u8> {
    let store = syncwatch::store::Store::open(&plan.settings.store)
        .await
        .context("cannot open the state store")?;
    let now = Utc::now();
    let code = if let Some(id) = end {
        if store.end_silence(id, now).await? {
            println!("silence {id} ended");
            0
        } else {
            eprintln!("error: no current silence with id {id} (`syncwatch silence --list`)");
            EXIT_RUNTIME
        }
    } else if list {
        let mut all = plan.settings.silences.clone();
        all.retain(|s| s.until > now);
        all.extend(store.silences(now).await?);
        match format {
            Format::Json => println!("{:#}", serde_json::json!({ "silences": all })),
            Format::Table => {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.map(|i| i.to_string())
                                .unwrap_or_else(|| "settings".into()),
                            s.pattern.clone(),
                            s.from.format("%Y-%m-%d %H:%M UTC").to_string(),
                            s.until.format("%Y-%m-%d %H:%M UTC").to_string(),
                            s.reason.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    report::table(&["ID", "CHECKS", "FROM", "UNTIL", "REASON"], &rows)
                );
            }
        }
        0
    } else {
        let (pattern, duration, reason) = (
            pattern.unwrap_or_default(),
            duration.unwrap_or_default(),
            reason.unwrap_or_default(),
        );
        let matched: Vec<&str> = plan
            .checks
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| syncwatch::model::glob(&pattern, n))
            .collect();
        if matched.is_empty() {
            let hint =
                config::diag::did_you_mean(&pattern, plan.checks.iter().map(|c| c.name.as_str()))
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
            eprintln!("error: \"{pattern}\" matches no check{hint}");
            EXIT_RUNTIME
        } else {
            let s = syncwatch::model::Silence {
                id: None,
                pattern: pattern.clone(),
                from: now,
                until: now + chrono::Duration::from_std(duration).unwrap_or_default(),
                reason,
            };
            let id = store.add_silence(&s, now).await?;
            println!(
                "silence {id}: {} ({} check{}) until {}: {}",
                pattern,
                matched.len(),
                if matched.len() == 1 { "" } else { "s" },
                s.until.format("%Y-%m-%d %H:%M UTC"),
                s.reason
            );
            0
        }
    };
    store.close().await;
    Ok(code)
}

fn oncall(plan: &Plan, at: Option<&str>, weeks: usize, format: Format) -> u8 {
    let Some(r) = &plan.settings.oncall else {
        eprintln!("error: no `oncall` rotation in the settings (see README, \"The Prog Lead\")");
        return EXIT_CONFIG;
    };
    let when = match at {
        None => Utc::now(),
        Some(s) => match syncwatch::oncall::parse_time(s, r.timezone) {
            Some(t) => t,
            None => {
                eprintln!("error: --at \"{s}\": write RFC 3339 or \"YYYY-MM-DD HH:MM\"");
                return EXIT_RUNTIME;
            }
        },
    };
    let now = r.at(when);
    let next = r.handoffs(when, weeks);
    let local = |t: chrono::DateTime<Utc>| {
        t.with_timezone(&r.timezone)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    match format {
        Format::Json => println!(
            "{:#}",
            serde_json::json!({
                "at": when,
                "on_call": now,
                "handoffs": next.iter().map(|(t, m)| serde_json::json!({"at": t, "prog_lead": m})).collect::<Vec<_>>(),
            })
        ),
        Format::Table => {
            match &now {
                None => println!(
                    "The rotation has not started yet (first handoff after {}).",
                    r.start
                ),
                Some(o) => {
                    let covering = o
                        .covering_for
                        .as_ref()
                        .map(|c| format!(" (covering for {c})"))
                        .unwrap_or_default();
                    println!("Prog Lead: {}{covering}", o.prog_lead.name);
                    let names: Vec<&str> = o.secondary.iter().map(|m| m.name.as_str()).collect();
                    println!(
                        "Secondary: {}",
                        if names.is_empty() {
                            "-".into()
                        } else {
                            names.join(", ")
                        }
                    );
                }
            }
            println!("\nNext handoffs:");
            let rows: Vec<Vec<String>> = next
                .iter()
                .map(|(t, m)| vec![local(*t), m.name.clone()])
                .collect();
            print!("{}", report::table(&["WHEN", "PROG LEAD"], &rows));
        }
    }
    0
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn validate(path: &Path, format: Format) -> u8 {
    match config::load(path, &env_lookup) {
        Ok(plan) => {
            let files = plan.files.len() - 1;
            match format {
                Format::Table => println!(
                    "{}: OK: {} checks in {} file{}, {} source{}",
                    path.display(),
                    plan.checks.len(),
                    files,
                    if files == 1 { "" } else { "s" },
                    plan.settings.sources.len(),
                    if plan.settings.sources.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                ),
                Format::Json => println!(
                    "{}",
                    serde_json::json!({"ok": true, "checks": plan.checks.len(), "files": files, "sources": plan.settings.sources.len(), "problems": []})
                ),
            }
            0
        }
        Err(errors) => {
            match format {
                Format::Table => eprintln!("{errors}"),
                Format::Json => {
                    let problems: Vec<_> = errors
                        .0
                        .iter()
                        .map(|d| serde_json::json!({"file": d.file, "line": d.line, "column": d.col, "check": d.check, "field": d.field, "message": d.message, "hint": d.hint, "text": d.to_string()}))
                        .collect();
                    println!("{}", serde_json::json!({"ok": false, "problems": problems}));
                }
            }
            EXIT_CONFIG
        }
    }
}

fn print_plan(plan: &Plan, format: Format, next: usize) {
    let now = Utc::now();
    match format {
        Format::Table => print!("{}", report::plan_table(&plan.checks, now, next)),
        Format::Json => println!("{:#}", report::plan_json(&plan.checks, now, next)),
    }
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

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}

async fn incidents(plan: Plan, what: IncidentsCommand) -> anyhow::Result<u8> {
    use syncwatch::store::incidents::Change;
    let app = App::build(plan).await.context("cannot start")?;
    let store = &app.store;
    let code = match what {
        IncidentsCommand::List { all, limit, format } => {
            let list = store.incidents(!all, limit).await?;
            match format {
                Format::Table => print!("{}", syncwatch::retro::list_table(&list)),
                Format::Json => println!("{:#}", serde_json::json!({ "incidents": list })),
            }
            0
        }
        IncidentsCommand::Show { id, format } => match store.incident(id).await? {
            None => {
                eprintln!("error: no incident #{id} (`syncwatch incidents list --all`)");
                EXIT_RUNTIME
            }
            Some(inc) => {
                let timeline = store.timeline(&inc).await?;
                match format {
                    Format::Table => print!("{}", syncwatch::retro::show_text(&inc, &timeline)),
                    Format::Json => println!(
                        "{:#}",
                        serde_json::json!({ "incident": inc, "status": inc.status(), "timeline": timeline })
                    ),
                }
                0
            }
        },
        IncidentsCommand::Ack { id, by } => {
            let by = who(by);
            change_incident(&app, id, Change::Ack { by: &by }, "acknowledged").await?
        }
        IncidentsCommand::Resolve { id, note, by } => {
            let by = who(by);
            let change = Change::Resolve {
                by: &by,
                note: &note,
            };
            change_incident(&app, id, change, "resolved").await?
        }
    };
    app.close().await;
    Ok(code)
}

/// Applies a person's change and delivers what it says (within `drain_timeout`).
async fn change_incident(
    app: &App,
    id: i64,
    change: syncwatch::store::incidents::Change<'_>,
    verb: &str,
) -> anyhow::Result<u8> {
    use syncwatch::store::incidents::{Change, Changed};
    let by = match change {
        Change::Ack { by } | Change::Resolve { by, .. } => by,
        Change::Escalate => "syncwatch",
    };
    Ok(
        match syncwatch::respond::change::change_incident(
            &app.store,
            id,
            change,
            &app.plan.settings,
            Utc::now(),
        )
        .await?
        {
            Changed::NotFound => {
                eprintln!("error: no incident #{id} (`syncwatch incidents list --all`)");
                EXIT_RUNTIME
            }
            Changed::Already(inc) => {
                println!(
                    "incident #{id} is {} already; nothing changed",
                    inc.status()
                );
                0
            }
            Changed::Done(inc) => {
                println!("incident #{id} ({}) {verb} by {by}", inc.check);
                let deadline = Utc::now()
                    + chrono::Duration::from_std(app.plan.settings.drain_timeout)
                        .unwrap_or_default();
                let d = syncwatch::notify::dispatch::drain(app, None, deadline).await;
                println!(
                    "told: {} delivered, {} to retry, {} given up",
                    d.delivered, d.retried, d.gave_up
                );
                0
            }
        },
    )
}

async fn retro(plan: Plan, id: i64, format: RetroFormat) -> anyhow::Result<u8> {
    let store = syncwatch::store::Store::open(&plan.settings.store)
        .await
        .context("cannot open the state store")?;
    let Some(inc) = store.incident(id).await? else {
        eprintln!("error: no incident #{id} (`syncwatch incidents list --all`)");
        return Ok(EXIT_RUNTIME);
    };
    let timeline = store.timeline(&inc).await?;
    let until = inc.resolved_at.unwrap_or_else(Utc::now) + chrono::Duration::hours(1);
    let runs = store
        .runs_between(&inc.check, inc.since, until, 10_000)
        .await?;
    match format {
        RetroFormat::Md => print!(
            "{}",
            syncwatch::retro::retro_markdown(&inc, &timeline, &runs)
        ),
        RetroFormat::Json => println!("{:#}", syncwatch::retro::retro_json(&inc, &timeline, &runs)),
    }
    store.close().await;
    Ok(0)
}
