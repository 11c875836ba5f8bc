//! `syncwatch demo`: seed the demo partner database and run the example checks.

use super::{env_lookup, load, Format, EXIT_CONFIG};
use std::path::PathBuf;
use syncwatch::demo;
use syncwatch::pass::Selection;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub async fn run(a: Args, config: &Option<PathBuf>) -> anyhow::Result<u8> {
    let format = a.format;
    let plan = match config {
        Some(path) => load(path),
        None => demo::embedded_plan(&std::env::current_dir()?, &env_lookup).map_err(|e| {
            eprintln!("{e}");
            EXIT_CONFIG
        }),
    };
    let plan = match plan {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let db = demo::seed(&plan).await.map_err(anyhow::Error::msg)?;
    if format == Format::Table {
        println!(
            "Demo partner database: {db}\nRunning {} example checks…\n",
            plan.checks.len()
        );
    }
    let code = super::run::tick(plan, &Selection::All, None, format, None, None).await?;
    if format == Format::Table {
        println!("Next: `syncwatch validate`, `syncwatch plan`, `syncwatch run --all`, or edit checks/*.yaml.");
    }
    Ok(code)
}
