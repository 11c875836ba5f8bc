//! `syncwatch incidents list|show|open|update|ack|resolve`.

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
    /// Raise an incident by hand (a problem a user reported): pages the Prog Lead like a failing
    /// check would, and follows the same lifecycle (escalation, ack, updates, resolve, retro).
    Open {
        /// What is wrong, in a line.
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: Option<String>,
        /// The check it concerns (pages its `page` route; its component on the status page).
        #[arg(long, conflicts_with_all = ["source", "partner"])]
        check: Option<String>,
        /// The source it concerns.
        #[arg(long, conflicts_with = "partner")]
        source: Option<String>,
        /// The partner it concerns (a Statuspage component key of that name is used).
        #[arg(long)]
        partner: Option<String>,
        #[arg(long, value_parser = ["critical", "error", "warning"], default_value = "error")]
        severity: String,
        /// Call an incident channel (always for critical).
        #[arg(long)]
        call: bool,
        /// Who reports it. Default: $USER.
        #[arg(long)]
        by: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Post an update: kept in the timeline and the retro, sent to the incident's channel and
    /// route; with --public also to the status pages partners read. `resolved` resolves it.
    Update {
        id: i64,
        #[arg(long, value_parser = ["investigating", "identified", "monitoring", "resolved"])]
        status: String,
        #[arg(long)]
        message: String,
        /// Also post it where partners read it (Statuspage, syncwatch's status page).
        #[arg(long)]
        public: bool,
        /// Who posts it. Default: $USER.
        #[arg(long)]
        by: Option<String>,
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
        IncidentsCommand::Open {
            title,
            description,
            check,
            source,
            partner,
            severity,
            call,
            by,
            format,
        } => {
            let req = syncwatch::incidents::RaiseRequest {
                title,
                description,
                check,
                source,
                partner,
                severity: Some(severity),
                by: None,
                call,
            };
            let by = who(by);
            open(&app, &req, &by, format).await?
        }
        IncidentsCommand::Update {
            id,
            status,
            message,
            public,
            by,
        } => update(&app, id, &status, &message, public, who(by)).await?,
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
                let d = drain(app).await;
                println!(
                    "told: {} delivered, {} to retry, {} given up",
                    d.delivered, d.retried, d.gave_up
                );
                0
            }
        },
    )
}

async fn open(
    app: &std::sync::Arc<App>,
    req: &syncwatch::incidents::RaiseRequest,
    by: &str,
    format: Format,
) -> anyhow::Result<u8> {
    let raise = match syncwatch::incidents::raise_plan(&app.plan, req, by) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_RUNTIME);
        }
    };
    let (inc, paged) =
        syncwatch::respond::change::raise(&app.store, &raise, &app.plan.settings, Utc::now())
            .await?;
    let d = drain(app).await;
    match format {
        Format::Json => println!(
            "{:#}",
            serde_json::json!({ "incident": inc, "status": inc.status(), "paged": paged,
                "delivered": d.delivered, "to_retry": d.retried, "given_up": d.gave_up })
        ),
        Format::Table => {
            println!("incident #{} opened: {}", inc.id, inc.summary);
            if paged.is_empty() {
                println!(
                    "nobody was paged: no route (set incidents.raised_route, or declare routes:)"
                );
            } else {
                let lead = inc
                    .prog_lead
                    .as_deref()
                    .map(|l| format!(" (Prog Lead {l})"))
                    .unwrap_or_default();
                println!(
                    "paged {}{lead}: {}",
                    raise.route.as_deref().unwrap_or_default(),
                    paged.join(", ")
                );
            }
            if let Some(c) = &inc.call {
                println!("incident channel: #{c}");
            }
            println!(
                "told: {} delivered, {} to retry, {} given up",
                d.delivered, d.retried, d.gave_up
            );
        }
    }
    Ok(0)
}

async fn update(
    app: &std::sync::Arc<App>,
    id: i64,
    status: &str,
    message: &str,
    public: bool,
    by: String,
) -> anyhow::Result<u8> {
    use syncwatch::store::incidents::Changed;
    let now = Utc::now();
    let u = match syncwatch::incidents::new_update(id, status, message, public, Some(by), now) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_RUNTIME);
        }
    };
    let Some(inc) = app.store.incident(id).await? else {
        eprintln!("error: no incident #{id} (`syncwatch incidents list --all`)");
        return Ok(EXIT_RUNTIME);
    };
    let route = syncwatch::incidents::update_route(&app.plan, &inc);
    match syncwatch::respond::change::post_update(
        &app.store,
        id,
        &u,
        &route,
        &app.plan.settings,
        now,
    )
    .await?
    {
        Changed::NotFound => {
            eprintln!("error: no incident #{id} (`syncwatch incidents list --all`)");
            Ok(EXIT_RUNTIME)
        }
        Changed::Already(_) => {
            eprintln!("error: incident #{id} is resolved already; nothing posted");
            Ok(EXIT_RUNTIME)
        }
        Changed::Done(inc) => {
            println!(
                "update posted on incident #{id} ({}): {status}{}",
                inc.check,
                if public { ", public" } else { "" }
            );
            let d = drain(app).await;
            println!(
                "told: {} delivered, {} to retry, {} given up",
                d.delivered, d.retried, d.gave_up
            );
            Ok(0)
        }
    }
}

async fn drain(app: &std::sync::Arc<App>) -> syncwatch::notify::dispatch::Drained {
    let deadline = Utc::now()
        + chrono::Duration::from_std(app.plan.settings.drain_timeout).unwrap_or_default();
    syncwatch::notify::dispatch::drain(app, None, deadline).await
}
