//! `syncwatch run`: one tick (due checks and re-checks, the pass, incident timers, delivery),
//! printed as a table or JSON, with the CronJob exit codes.

use super::{Format, EXIT_RUNTIME, EXIT_THRESHOLD};
use anyhow::Context;
use clap::ValueEnum;
use std::io::IsTerminal;
use syncwatch::app::App;
use syncwatch::config::{self, Plan};
use syncwatch::metrics::Metrics;
use syncwatch::pass::Selection;
use syncwatch::report;
use syncwatch::verdict::Verdict;

#[derive(clap::Args)]
pub struct Args {
    /// Run every check, due or not.
    #[arg(long, conflicts_with = "only")]
    all: bool,
    /// Run only these checks (repeat or comma-separate), due or not.
    #[arg(long, value_name = "NAME", value_delimiter = ',', num_args = 1..)]
    only: Vec<String>,
    /// table, json, or dbt-sources: dbt's sources.json (schema v3) for the checks read from dbt
    /// projects, as `dbt source freshness` writes it.
    #[arg(long, value_enum, default_value_t = RunFormat::Table)]
    format: RunFormat,
    /// Also write dbt's sources.json for the dbt checks to PATH (beside the normal output).
    #[arg(long, value_name = "PATH")]
    dbt_sources_out: Option<std::path::PathBuf>,
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
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RunFormat {
    Table,
    Json,
    DbtSources,
}

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    let sel = if a.all {
        Selection::All
    } else if !a.only.is_empty() {
        if let Err(msg) = known_names(&plan, &a.only) {
            eprintln!("error: {msg}");
            return Ok(EXIT_RUNTIME);
        }
        Selection::Only(a.only)
    } else {
        Selection::Due
    };
    let shard = match a.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --shard: {e}");
            return Ok(EXIT_RUNTIME);
        }
    };
    let push = a.push_gateway.map(|url| (url, a.push_job));
    let t = tick_only(plan, &sel, shard, push).await?;
    let sources =
        || syncwatch::report::dbt_sources(&t.report, &t.app.plan.checks, chrono::Utc::now());
    match a.format {
        RunFormat::Table => t.print(Format::Table),
        RunFormat::Json => t.print(Format::Json),
        RunFormat::DbtSources => println!("{:#}", sources()),
    }
    if let Some(path) = &a.dbt_sources_out {
        if let Err(e) = std::fs::write(path, format!("{:#}\n", sources())) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return Ok(EXIT_RUNTIME);
        }
    }
    Ok(t.code(a.fail_on.map(FailOn::verdict)))
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

/// One tick's results, before they are printed.
pub struct Ticked {
    pub report: syncwatch::pass::PassReport,
    pub drained: syncwatch::notify::dispatch::Drained,
    /// The app the tick ran with (its pools closed): the plan's checks, not copied.
    pub app: std::sync::Arc<App>,
    pushed: Option<Result<(), String>>,
}

impl Ticked {
    /// The pass as its `--format json` document, to serialize.
    fn doc(&self) -> report::PassJson<'_> {
        let mut doc = report::pass_json(&self.report, &self.app.plan.checks);
        doc.outbox = Some(serde_json::json!({
            "delivered": self.drained.delivered, "retried": self.drained.retried,
            "gave_up": self.drained.gave_up, "pending": self.drained.pending,
        }));
        doc
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self.doc()).unwrap_or_default()
    }

    /// The exit code: 2 on a failed push or unrecorded runs, 1 past `--fail-on`, else 0.
    pub fn code(&self, fail_on: Option<Verdict>) -> u8 {
        if let Some(Err(e)) = &self.pushed {
            eprintln!("error: {e}");
            return EXIT_RUNTIME;
        }
        if !self.report.store_errors.is_empty() {
            return EXIT_RUNTIME;
        }
        let tripped = fail_on.is_some_and(|f| self.report.worst().is_some_and(|w| w >= f));
        if tripped {
            EXIT_THRESHOLD
        } else {
            0
        }
    }

    pub fn print(&self, format: Format) {
        let drained = &self.drained;
        match format {
            Format::Table => {
                let color =
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                print!(
                    "{}",
                    report::pass_table(&self.report, &self.app.plan.checks, color)
                );
                if drained.delivered + drained.retried + drained.gave_up > 0 || drained.pending > 0
                {
                    println!(
                        "outbox: {} delivered, {} to retry, {} given up; {} waiting for the next run",
                        drained.delivered, drained.retried, drained.gave_up, drained.pending
                    );
                }
            }
            Format::Json => {
                // Written as it is serialized: no copy of the document in memory.
                use std::io::Write;
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                let _ = serde_json::to_writer_pretty(&mut out, &self.doc());
                let _ = writeln!(out);
                let _ = out.flush();
            }
        }
    }
}

/// One tick: the pass over `sel` (and `shard`), the incident timers, delivery, and the push.
pub async fn tick_only(
    plan: Plan,
    sel: &Selection,
    shard: Option<syncwatch::shard::Shard>,
    push: Option<(url::Url, String)>,
) -> anyhow::Result<Ticked> {
    let app = App::build(plan).await.context("cannot start")?;
    let metrics = push.as_ref().map(|_| Metrics::new());
    let tick =
        match syncwatch::tick::once(app.clone(), sel, shard, metrics.as_ref(), app.clock.now())
            .await
        {
            Ok(t) => t,
            Err(e) => {
                app.close().await;
                return Err(anyhow::Error::new(e).context("pass failed"));
            }
        };
    app.close().await;
    let pushed = match (push, metrics) {
        (Some((url, job)), Some(metrics)) => {
            Some(syncwatch::metrics::push(&app.probes.http, &url, &job, metrics.render()).await)
        }
        _ => None,
    };
    Ok(Ticked {
        report: tick.pass,
        drained: tick.drained,
        app,
        pushed,
    })
}
