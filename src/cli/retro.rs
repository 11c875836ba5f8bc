//! `syncwatch retro`: a blameless retro draft for an incident; marking it done; assigning its
//! action items. `syncwatch actions`: the action items across incidents.

use super::{Format, EXIT_RUNTIME};
use anyhow::Context;
use chrono::Utc;
use clap::ValueEnum;
use syncwatch::config::Plan;
use syncwatch::store::Store;

#[derive(clap::Args)]
pub struct Args {
    /// The incident id (`syncwatch incidents list`).
    id: i64,
    #[arg(long, value_enum, default_value_t = RetroFormat::Md)]
    format: RetroFormat,
    /// Mark the retro done: its reminders stop.
    #[arg(long, conflicts_with = "action")]
    done: bool,
    /// Where the retro is written (with --done).
    #[arg(long, requires = "done", value_name = "URL")]
    doc: Option<String>,
    /// Assign an action item (needs --owner).
    #[arg(long, value_name = "TEXT", requires = "owner")]
    action: Option<String>,
    /// The member who owns the action item.
    #[arg(long, value_name = "MEMBER", requires = "action")]
    owner: Option<String>,
    /// When the action item is due (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", requires = "action", value_parser = date_arg)]
    due: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RetroFormat {
    Md,
    Json,
}

fn date_arg(s: &str) -> Result<String, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| format!("\"{s}\" is not a date (write YYYY-MM-DD)"))
}

async fn open(plan: &Plan) -> anyhow::Result<Store> {
    Store::open(&plan.settings.store)
        .await
        .context("cannot open the state store")
}

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    let store = open(&plan).await?;
    let code = retro(&store, &plan, a).await?;
    store.close().await;
    Ok(code)
}

async fn retro(store: &Store, plan: &Plan, a: Args) -> anyhow::Result<u8> {
    let id = a.id;
    let Some(inc) = store.incident(id).await? else {
        eprintln!("error: no incident #{id} (`syncwatch incidents list --all`)");
        return Ok(EXIT_RUNTIME);
    };
    let now = Utc::now();
    if a.done {
        store.retro_done(id, now, a.doc.as_deref()).await?;
        store
            .add_event(
                now,
                &inc.check,
                "retro",
                Some(&super::who(None)),
                &match &a.doc {
                    Some(d) => format!("retro done: {d}"),
                    None => "retro done".to_string(),
                },
            )
            .await?;
        println!("retro of incident #{id} marked done; no more reminders");
        return Ok(0);
    }
    if let (Some(text), Some(owner)) = (&a.action, &a.owner) {
        let members: Vec<&str> = plan
            .settings
            .oncall
            .iter()
            .flat_map(|r| r.members.iter().map(|m| m.name.as_str()))
            .collect();
        if !members.contains(&owner.as_str()) {
            eprintln!(
                "error: \"{owner}\" is not a member of the rotation (members: {})",
                if members.is_empty() {
                    "none: no oncall rotation".to_string()
                } else {
                    members.join(", ")
                }
            );
            return Ok(EXIT_RUNTIME);
        }
        let item = store
            .add_action(id, text, owner, a.due.as_deref(), now)
            .await?;
        store
            .add_event(
                now,
                &inc.check,
                "action",
                Some(&super::who(None)),
                &format!("action item #{item} for {owner}: {text}"),
            )
            .await?;
        println!("action item #{item} for {owner} on incident #{id}");
        return Ok(0);
    }
    let timeline = store.timeline(&inc).await?;
    let until = inc.resolved_at.unwrap_or_else(Utc::now) + chrono::Duration::hours(1);
    let runs = store
        .runs_between(&inc.check, inc.since, until, 10_000)
        .await?;
    let actions = store.actions(false, Some(id)).await?;
    let facts = syncwatch::retro::Facts {
        incident: &inc,
        timeline: &timeline,
        runs: &runs,
        actions: &actions,
    };
    match a.format {
        RetroFormat::Md => print!("{}", syncwatch::retro::retro_markdown(&facts)),
        RetroFormat::Json => println!("{:#}", syncwatch::retro::retro_json(&facts)),
    }
    Ok(0)
}

#[derive(clap::Args)]
pub struct ActionsArgs {
    #[command(subcommand)]
    what: ActionsCommand,
}

#[derive(clap::Subcommand)]
enum ActionsCommand {
    /// Open action items, oldest first (--all: done ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Mark action item N done.
    Done { id: i64 },
}

pub async fn actions(a: ActionsArgs, plan: Plan) -> anyhow::Result<u8> {
    let store = open(&plan).await?;
    let code = match a.what {
        ActionsCommand::List { all, format } => {
            let items = store.actions(!all, None).await?;
            match format {
                Format::Json => println!("{:#}", serde_json::json!({ "action_items": items })),
                Format::Table if items.is_empty() => println!("no open action items"),
                Format::Table => {
                    let rows: Vec<Vec<String>> = items
                        .iter()
                        .map(|i| {
                            vec![
                                i.id.to_string(),
                                format!("#{}", i.incident),
                                i.owner.clone(),
                                i.due.clone().unwrap_or_else(|| "-".into()),
                                if i.done_at.is_some() { "done" } else { "open" }.into(),
                                i.text.clone(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        syncwatch::report::table(
                            &["ID", "INCIDENT", "OWNER", "DUE", "STATUS", "ACTION"],
                            &rows
                        )
                    );
                }
            }
            0
        }
        ActionsCommand::Done { id } => {
            if store.action_done(id, Utc::now()).await? {
                println!("action item #{id} done");
                0
            } else {
                eprintln!("error: no open action item #{id} (`syncwatch actions list`)");
                EXIT_RUNTIME
            }
        }
    };
    store.close().await;
    Ok(code)
}
