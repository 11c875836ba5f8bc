//! `syncwatch report oncall`: how on-call is going, per member and for the team.
//! `syncwatch report slo`: each check's freshness objective, what it achieved, budget left.

use anyhow::Context;
use chrono::Utc;
use clap::ValueEnum;
use syncwatch::config::Plan;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: ReportCommand,
}

#[derive(clap::Subcommand)]
enum ReportCommand {
    /// Per member: pages and pages out of hours, time to acknowledge and resolve (median,
    /// p90), retros done and overdue; failures fixed by a restart with no page; the noisiest
    /// checks — next to common benchmarks.
    Oncall {
        /// How far back (incidents opened since then).
        #[arg(long, default_value = "30d", value_parser = super::duration_arg)]
        since: std::time::Duration,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
    /// Per check with an `slo:`: objective, achieved (time-weighted over the run history),
    /// time unknown (no run, or the data could not be read), and error budget left.
    Slo {
        /// How far back; default: each check's own `slo.window`.
        #[arg(long, value_parser = super::duration_arg)]
        since: Option<std::time::Duration>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Md,
    Json,
}

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    let (since, format) = match a.what {
        ReportCommand::Oncall { since, format } => (since, format),
        ReportCommand::Slo { since, format } => return slo(plan, since, format).await,
    };
    let store = syncwatch::store::Store::open(&plan.settings.store)
        .await
        .context("cannot open the state store")?;
    let now = Utc::now();
    let from = now - chrono::Duration::from_std(since).unwrap_or_default();
    let incidents = store.incidents_since(from).await?;
    let fixed = store
        .count_events("notice", syncwatch::notify::incident::AUTO_FIXED, from)
        .await?;
    store.close().await;
    let zone = plan.settings.oncall_zone();
    let members: Vec<String> = plan
        .settings
        .oncall
        .iter()
        .flat_map(|r| r.members.iter().map(|m| m.name.clone()))
        .collect();
    let today = now.with_timezone(&zone).format("%Y-%m-%d").to_string();
    let report = syncwatch::stats::oncall_report(
        &incidents,
        &members,
        fixed.max(0) as usize,
        from,
        now,
        zone,
        &today,
    );
    match format {
        ReportFormat::Md => print!("{}", syncwatch::stats::markdown(&report)),
        ReportFormat::Json => println!("{:#}", serde_json::json!(report)),
    }
    Ok(0)
}

async fn slo(
    plan: Plan,
    since: Option<std::time::Duration>,
    format: ReportFormat,
) -> anyhow::Result<u8> {
    let checks: Vec<_> = plan.checks.iter().filter(|c| c.slo.is_some()).collect();
    if checks.is_empty() {
        eprintln!("no check has an `slo:` (e.g. slo: {{ objective: 99.5%, window: 28d }} in a check or its file's defaults)");
        if format == ReportFormat::Json {
            println!("{:#}", serde_json::json!({ "checks": [] }));
        }
        return Ok(0);
    }
    let store = syncwatch::store::Store::open(&plan.settings.store)
        .await
        .context("cannot open the state store")?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for c in checks {
        let slo = c.slo.expect("filtered");
        let window = since.unwrap_or(slo.window);
        let from = now - chrono::Duration::from_std(window).unwrap_or_default();
        let runs = store.slo_runs(&c.name, from, now).await?;
        let a = syncwatch::slo::compute(&runs, &c.schedule, from, now, slo.objective);
        rows.push((c.name.clone(), slo, window, a));
    }
    store.close().await;
    match format {
        ReportFormat::Json => {
            let checks: Vec<serde_json::Value> = rows
                .iter()
                .map(|(name, slo, window, a)| {
                    serde_json::json!({
                        "check": name,
                        "objective": slo.objective,
                        "window_seconds": window.as_secs(),
                        "achieved": a.achieved,
                        "good_seconds": a.good_seconds,
                        "bad_seconds": a.bad_seconds,
                        "unknown_seconds": a.unknown_seconds,
                        "budget_left": a.budget_left,
                        "budget_left_seconds": a.budget_left_seconds,
                        "met": a.achieved.map(|x| x >= slo.objective),
                    })
                })
                .collect();
            println!("{:#}", serde_json::json!({ "at": now, "checks": checks }));
        }
        ReportFormat::Md => {
            let pct =
                |x: Option<f64>| x.map_or("—".to_string(), |x| format!("{:.3}%", x * 100.0));
            let mut md = format!(
                "# Freshness SLOs\n\nAs of {}. Achieved is the share of known time the check met its freshness; unknown time (no run, or the data could not be read) is not counted either way.\n\n\
                 | check | objective | window | achieved | unknown | budget left | |\n|---|---|---|---|---|---|---|\n",
                now.format("%Y-%m-%d %H:%M UTC")
            );
            for (name, slo, window, a) in &rows {
                let left = match (a.budget_left, a.budget_left_seconds) {
                    (Some(r), Some(s)) => format!(
                        "{:.0}% ({}{})",
                        r * 100.0,
                        if s < 0.0 { "over by " } else { "" },
                        syncwatch::duration::human(s.abs())
                    ),
                    _ => "—".into(),
                };
                let status = match a.achieved {
                    Some(x) if x >= slo.objective => "met",
                    Some(_) => "MISSED",
                    None => "no data",
                };
                md.push_str(&format!(
                    "| {name} | {} | {} | {} | {} | {left} | {status} |\n",
                    pct(Some(slo.objective)),
                    syncwatch::duration::canonical(*window),
                    pct(a.achieved),
                    syncwatch::duration::human(a.unknown_seconds),
                ));
            }
            print!("{md}");
        }
    }
    Ok(0)
}
