//! `syncwatch report oncall`: how on-call is going, per member and for the team.

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
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Md,
    Json,
}

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    let ReportCommand::Oncall { since, format } = a.what;
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
    let zone = plan
        .settings
        .oncall
        .as_ref()
        .map_or(chrono_tz::UTC, |r| r.timezone);
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
