//! `syncwatch demo`: seed the demo partner database and tell the whole story on it — the
//! example checks (pass, warn, fail, error), a restart that fixes a sync, one that does not, the
//! re-check after `settle`, the page to the Prog Lead (on the console notifier), the incident
//! and its retro draft; with `--serve`, the status page until Ctrl-C.

use super::{env_lookup, load, Format, EXIT_CONFIG, EXIT_RUNTIME};
use anyhow::Context;
use std::path::{Path, PathBuf};
use syncwatch::config::Plan;
use syncwatch::demo;
use syncwatch::pass::Selection;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Afterwards, serve the status page (and the API) on this address until Ctrl-C.
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:9187")]
    serve: Option<std::net::SocketAddr>,
    /// Play the partner's sync for TABLE in the demo database (what the demo's restart
    /// commands run).
    #[arg(long, value_name = "TABLE", hide = true)]
    sync: Option<String>,
}

pub async fn run(a: Args, config: &Option<PathBuf>) -> anyhow::Result<u8> {
    let cwd = std::env::current_dir()?;
    let embedded = config.is_none();
    let plan = match config {
        Some(path) => load(path),
        None => demo::embedded_plan(&cwd, &env_lookup).map_err(|e| {
            eprintln!("{e}");
            EXIT_CONFIG
        }),
    };
    let plan = match plan {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    if let Some(table) = &a.sync {
        return Ok(play_sync(&plan, table).await);
    }
    let format = a.format;
    let table = format == Format::Table;
    if embedded {
        // A fresh story each time: the demo's own state starts empty.
        let _ = std::fs::remove_file(cwd.join(".syncwatch/state.db"));
    }
    let db = demo::seed(&plan).await.map_err(anyhow::Error::msg)?;
    if table {
        println!(
            "Demo partner database: {db}\nRunning {} example checks…\n",
            plan.checks.len()
        );
    }
    let first = super::run::tick_only(plan.clone(), &Selection::All, None, None).await?;
    if table {
        first.print(format);
    }
    let settle = plan
        .checks
        .iter()
        .filter_map(|c| c.on_failure.as_ref()?.restart.as_ref())
        .map(|r| r.settle)
        .max()
        .unwrap_or_default();
    let restarted = first
        .report
        .results
        .iter()
        .filter(|r| {
            r.decision.as_ref().is_some_and(|d| {
                d.actions
                    .iter()
                    .any(|a| matches!(a, syncwatch::policy::Action::Restart))
            })
        })
        .count();
    if table {
        println!(
            "\n{restarted} sync{} restarted. Waiting {}s for the restarts to settle, then re-checking…\n",
            if restarted == 1 { " was" } else { "s were" },
            settle.as_secs()
        );
    }
    tokio::time::sleep(settle + std::time::Duration::from_millis(200)).await;
    let second = super::run::tick_only(plan.clone(), &Selection::Due, None, None).await?;
    let code = first.code(None).max(second.code(None));
    if table {
        second.print(format);
        story_end(&plan).await?;
    } else {
        let store = syncwatch::store::Store::open(&plan.settings.store).await?;
        let open = store.incidents(true, 10).await?;
        store.close().await;
        println!(
            "{:#}",
            serde_json::json!({
                "passes": [first.json(), second.json()],
                "incidents": open,
            })
        );
    }
    let wrote = if embedded {
        leave_example(&cwd)
    } else {
        Vec::new()
    };
    if table {
        if !wrote.is_empty() {
            println!("\nWrote {} here, so these work next:", wrote.join(" and "));
        } else {
            println!("\nNext:");
        }
        let config = if embedded || wrote.is_empty() && cwd.join("syncwatch.yaml").exists() {
            String::new()
        } else {
            " --config …".to_string()
        };
        println!(
            "  syncwatch{config} incidents list      # the open incident\n  \
             syncwatch{config} run --all           # another pass (the incident stays open until the data is fresh)\n  \
             syncwatch{config} demo --serve        # the status page on http://127.0.0.1:9187\n  \
             edit checks/demo.yaml, then: syncwatch{config} validate"
        );
    }
    if let Some(addr) = a.serve {
        return serve(plan, addr).await;
    }
    Ok(code)
}

/// The incident the page opened, and the draft of its retro.
async fn story_end(plan: &Plan) -> anyhow::Result<()> {
    let store = syncwatch::store::Store::open(&plan.settings.store)
        .await
        .context("cannot open the state store")?;
    let open = store.incidents(true, 10).await?;
    println!(
        "\n$ syncwatch incidents list\n{}",
        syncwatch::retro::list_table(&open)
    );
    if let Some(inc) = open.first() {
        let timeline = store.timeline(inc).await?;
        let until = chrono::Utc::now() + chrono::Duration::hours(1);
        let runs = store
            .runs_between(&inc.check, inc.since, until, 10_000)
            .await?;
        println!(
            "$ syncwatch retro {}\n{}",
            inc.id,
            syncwatch::retro::retro_markdown(&syncwatch::retro::Facts {
                incident: inc,
                timeline: &timeline,
                runs: &runs,
                actions: &[],
            })
        );
    }
    store.close().await;
    Ok(())
}

/// In a folder with neither settings nor checks, leaves the demo's own files behind, so that
/// `syncwatch run`, `validate` and `plan` work there next. Never overwrites anything.
fn leave_example(dir: &Path) -> Vec<String> {
    if dir.join("syncwatch.yaml").exists() || dir.join("checks").exists() {
        return Vec::new();
    }
    let mut wrote = Vec::new();
    if std::fs::write(dir.join("syncwatch.yaml"), demo::SETTINGS).is_ok() {
        wrote.push("syncwatch.yaml".to_string());
    }
    if std::fs::create_dir(dir.join("checks")).is_ok() {
        for (name, text) in demo::CHECKS {
            if std::fs::write(dir.join(name), text).is_ok() {
                wrote.push(name.to_string());
            }
        }
    }
    wrote
}

async fn play_sync(plan: &Plan, table: &str) -> u8 {
    use secrecy::ExposeSecret;
    let Some(spec) = plan.settings.sources.get("demo") else {
        eprintln!("error: the demo needs a source named \"demo\"");
        return EXIT_CONFIG;
    };
    match demo::sync(spec.url.expose_secret(), table).await {
        Ok(said) => {
            eprintln!("{said}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_RUNTIME
        }
    }
}

async fn serve(plan: Plan, addr: std::net::SocketAddr) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let app = syncwatch::app::App::build(plan)
        .await
        .context("cannot start")?;
    println!(
        "\nThe status page, with that incident: http://{}/ (Ctrl-C to stop)",
        listener.local_addr()?
    );
    let opts = syncwatch::daemon::Options {
        // The demo's files are embedded: nothing to watch.
        watch_interval: std::time::Duration::ZERO,
        grace: std::time::Duration::from_secs(5),
        router: syncwatch::web::router,
    };
    syncwatch::daemon::serve(
        PathBuf::from("syncwatch.yaml"),
        app,
        listener,
        syncwatch::clock::Clock::System,
        opts,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(0)
}
