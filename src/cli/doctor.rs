//! `syncwatch doctor`: connects to every source and prints what it found there.
//! Exit 0 all good, 1 a source's role could write, 2 a source is unreachable.

use super::Format;
use syncwatch::config::Plan;
use syncwatch::probe::doctor::Examination;
use syncwatch::probe::SourcePool;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub const COULD_WRITE: u8 = 1;
pub const UNREACHABLE: u8 = 2;

pub async fn run(plan: &Plan, json: bool) -> anyhow::Result<u8> {
    let mut names: Vec<&String> = plan.settings.sources.keys().collect();
    names.sort();
    let mut found = Vec::new();
    for name in names {
        let pool = SourcePool::new(plan.settings.sources[name].clone())?;
        found.push(pool.examine().await);
        pool.close().await;
    }
    if json {
        println!("{:#}", serde_json::json!({ "sources": found }));
    } else if found.is_empty() {
        println!("no sources configured (add them under `sources:` in the settings)");
    } else {
        for ex in &found {
            print!("{}", table(ex));
        }
    }
    Ok(exit_code(&found))
}

pub fn exit_code(found: &[Examination]) -> u8 {
    if found.iter().any(|e| !e.reachable || e.error.is_some()) {
        UNREACHABLE
    } else if found.iter().any(|e| e.could_write != Some(false)) {
        COULD_WRITE
    } else {
        0
    }
}

fn table(ex: &Examination) -> String {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = format!("{} ({}, {})\n", ex.source, ex.engine, ex.server);
    let reach = match (&ex.error, ex.reachable) {
        (Some(e), false) => format!("NO: {e}"),
        (Some(e), true) => format!("yes, but: {e}"),
        (None, _) => format!("yes, {:.1} ms", ex.latency_ms.unwrap_or_default()),
    };
    let write = match ex.could_write {
        Some(true) => format!("YES: {}", ex.write_access.join("; ")),
        Some(false) => format!("no ({})", ex.write_access.join("; ")),
        None => "unknown".into(),
    };
    for (k, v) in [
        ("reachable", reach),
        ("server version", or_dash(&ex.version)),
        ("session time zone", or_dash(&ex.time_zone)),
        ("statement timeout", or_dash(&ex.statement_timeout)),
        ("could write", write),
    ] {
        out.push_str(&format!("  {k:<18} {v}\n"));
    }
    out
}
