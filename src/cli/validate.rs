//! `syncwatch validate`: load the settings and every check file; report every problem at once.

use super::{env_lookup, Format, EXIT_CONFIG};
use std::path::Path;
use syncwatch::config;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: Args, path: &Path) -> u8 {
    validate(path, args.format)
}

fn validate(path: &Path, format: Format) -> u8 {
    match config::load(path, &env_lookup) {
        Ok(plan) => {
            let files = plan.files.len() - 1;
            let warnings = config::warnings(&plan);
            if format == Format::Table {
                for w in &warnings {
                    eprintln!("warning: {w}");
                }
            }
            match format {
                Format::Table => println!(
                    "{}: OK: {} checks in {} file{}, {} source{}",
                    path.display(),
                    plan.checks.len(),
                    files,
                    if files == 1 { "" } else { "s" },
                    plan.settings.sources.len(),
                    if plan.settings.sources.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                ),
                Format::Json => println!(
                    "{}",
                    serde_json::json!({"ok": true, "checks": plan.checks.len(), "files": files, "sources": plan.settings.sources.len(), "problems": [], "warnings": warnings})
                ),
            }
            0
        }
        Err(errors) => {
            match format {
                Format::Table => eprintln!("{errors}"),
                Format::Json => {
                    let problems: Vec<_> = errors
                        .0
                        .iter()
                        .map(|d| serde_json::json!({"file": d.file, "line": d.line, "column": d.col, "check": d.check, "field": d.field, "message": d.message, "hint": d.hint, "text": d.to_string()}))
                        .collect();
                    println!("{}", serde_json::json!({"ok": false, "problems": problems}));
                }
            }
            EXIT_CONFIG
        }
    }
}
