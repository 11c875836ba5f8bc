//! `syncwatch silence`: add, list and end silences (maintenance windows made by hand).

use super::{duration_arg, Format, EXIT_RUNTIME};
use anyhow::Context;
use chrono::Utc;
use syncwatch::config::{self, Plan};
use syncwatch::report;

#[derive(clap::Args)]
pub struct Args {
    /// A check name, or a pattern with * wildcards (e.g. "van_*").
    #[arg(required_unless_present_any = ["list", "end"])]
    pattern: Option<String>,
    /// How long, e.g. 2h.
    #[arg(long = "for", value_name = "DURATION", value_parser = duration_arg, required_unless_present_any = ["list", "end"])]
    duration: Option<std::time::Duration>,
    /// Why (shown in output and logs).
    #[arg(long, required_unless_present_any = ["list", "end"])]
    reason: Option<String>,
    /// List the current silences: made with this command (with their ID) and from the
    /// settings' `silences:`.
    #[arg(long, conflicts_with_all = ["pattern", "end"])]
    list: bool,
    /// End silence ID now (its ID from `--list`).
    #[arg(long, value_name = "ID", conflicts_with = "pattern")]
    end: Option<i64>,
    /// Output for `--list`: a table, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub async fn run(a: Args, plan: Plan) -> anyhow::Result<u8> {
    silence(
        plan, a.pattern, a.duration, a.reason, a.list, a.end, a.format,
    )
    .await
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
        // Recurring maintenance windows: the one open now, else the next one.
        for w in &plan.settings.maintenance {
            let next = w.at(now).or_else(|| {
                let from = w.next(now)?;
                let until =
                    from.checked_add_signed(chrono::Duration::from_std(w.duration).ok()?)?;
                Some(syncwatch::silence::Silence {
                    id: None,
                    pattern: w.pattern.clone(),
                    from,
                    until,
                    reason: format!("maintenance: {}", w.reason),
                })
            });
            all.extend(next);
        }
        all.extend(store.silences(now).await?);
        match format {
            Format::Json => println!("{:#}", serde_json::json!({ "silences": all })),
            Format::Table if all.is_empty() => println!(
                "no current silences (add one with `syncwatch silence NAME --for 2h --reason …`)"
            ),
            Format::Table => {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.map(|i| i.to_string()).unwrap_or_else(|| {
                                if s.reason.starts_with("maintenance: ") {
                                    "maintenance".into()
                                } else {
                                    "settings".into()
                                }
                            }),
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
            .filter(|n| syncwatch::silence::glob(&pattern, n))
            .collect();
        if matched.is_empty() {
            let hint =
                config::diag::did_you_mean(&pattern, plan.checks.iter().map(|c| c.name.as_str()))
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
            eprintln!("error: \"{pattern}\" matches no check{hint}");
            EXIT_RUNTIME
        } else {
            let s = syncwatch::silence::Silence {
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
