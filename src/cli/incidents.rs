//! `syncwatch incidents list|show|ack|resolve`.

use super::{who, Format, EXIT_RUNTIME};
use anyhow::Context;
use chrono::Utc;
use syncwatch::app::App;
use syncwatch::config::Plan;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: IncidentsCommand,
}

#[derive(clap::Subcommand)]
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

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    incidents(plan, a.what).await
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
    app: &std::sync::Arc<App>,
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
