//! `syncwatch plan`: every check with its schedule, time zone and next run times.

use super::Format;
use chrono::Utc;
use syncwatch::config::Plan;
use syncwatch::report;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// How many upcoming run times to show per check.
    #[arg(long, default_value_t = 3, value_name = "N")]
    next: usize,
}

pub fn run(args: Args, plan: &Plan) -> u8 {
    print_plan(plan, args.format, args.next);
    0
}

fn print_plan(plan: &Plan, format: Format, next: usize) {
    let now = Utc::now();
    match format {
        Format::Table if plan.checks.is_empty() => println!(
            "no checks in {} (`syncwatch validate` says more)",
            plan.settings.checks_dir.display()
        ),
        Format::Table => print!("{}", report::plan_table(&plan.checks, now, next)),
        Format::Json => println!("{:#}", report::plan_json(&plan.checks, now, next)),
    }
}
