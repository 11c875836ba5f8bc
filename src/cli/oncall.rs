//! `syncwatch oncall`: who is Prog Lead and secondary now (or at a time), and the next handoffs.

use super::{Format, EXIT_CONFIG, EXIT_RUNTIME};
use chrono::Utc;
use syncwatch::config::Plan;
use syncwatch::report;

#[derive(clap::Args)]
pub struct Args {
    /// An instant: RFC 3339, or "YYYY-MM-DD HH:MM" in the rotation's time zone. Default: now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// How many upcoming handoffs to list.
    #[arg(long, default_value_t = 4, value_name = "N")]
    weeks: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(a: Args, plan: &Plan) -> u8 {
    oncall(plan, a.at.as_deref(), a.weeks, a.format)
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
    let mut areas: Vec<String> = r
        .members
        .iter()
        .flat_map(|m| m.expertise.iter().cloned())
        .chain(plan.checks.iter().filter_map(|c| c.area.clone()))
        .collect();
    areas.sort();
    areas.dedup();
    let cover = now
        .as_ref()
        .map(|o| syncwatch::oncall::coverage(r, o, &areas))
        .unwrap_or_default();
    let uncovered: Vec<&syncwatch::oncall::AreaCover> =
        cover.iter().filter(|c| c.experts.is_empty()).collect();
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
                "areas": cover,
                "warnings": uncovered.iter().map(|c| format!("area {}: no expert on call", c.area)).collect::<Vec<_>>(),
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
            if !cover.is_empty() {
                println!("\nAreas:");
                let rows: Vec<Vec<String>> = cover
                    .iter()
                    .map(|c| {
                        vec![
                            c.area.clone(),
                            if c.experts.is_empty() {
                                "-".into()
                            } else {
                                c.experts.join(", ")
                            },
                            if c.prog_lead {
                                "yes"
                            } else {
                                "no: pages tag the experts"
                            }
                            .into(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    report::table(&["AREA", "EXPERTS ON CALL", "PROG LEAD COVERS"], &rows)
                );
                for c in &uncovered {
                    let hint = if c.off_rota.is_empty() {
                        String::new()
                    } else {
                        format!(" (knows it, not on call: {})", c.off_rota.join(", "))
                    };
                    eprintln!(
                        "warning: area {}: no expert on call this week{hint}",
                        c.area
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
