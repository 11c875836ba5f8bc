//! `syncwatch retro`: a blameless retro draft for an incident.

use super::EXIT_RUNTIME;
use anyhow::Context;
use chrono::Utc;
use clap::ValueEnum;
use syncwatch::config::Plan;

#[derive(clap::Args)]
pub struct Args {
    /// The incident id (`syncwatch incidents list`).
    id: i64,
    #[arg(long, value_enum, default_value_t = RetroFormat::Md)]
    format: RetroFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RetroFormat {
    Md,
    Json,
}

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    retro(plan, a.id, a.format).await
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
