//! `syncwatch serve`: the daemon (scheduler, sweeper, dispatcher and HTTP), until SIGTERM.

use super::duration_arg;
use anyhow::Context;
use std::path::PathBuf;
use syncwatch::app::App;
use syncwatch::clock::Clock;
use syncwatch::config::Plan;
use syncwatch::daemon;

#[derive(clap::Args)]
pub struct Args {
    /// Listen address (overrides `listen` in the settings; default 0.0.0.0:9187).
    #[arg(long, env = "SYNCWATCH_LISTEN", value_name = "HOST:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// How long shutdown waits for checks in flight.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = duration_arg)]
    grace: std::time::Duration,
    /// How often to look for changed configuration files; 0s watches SIGHUP only.
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = duration_arg)]
    watch_interval: std::time::Duration,
}

pub async fn run(a: Args, path: PathBuf, plan: Plan) -> anyhow::Result<u8> {
    serve(path, plan, a.listen, a.grace, a.watch_interval).await
}

async fn serve(
    path: PathBuf,
    plan: Plan,
    listen: Option<std::net::SocketAddr>,
    grace: std::time::Duration,
    watch_interval: std::time::Duration,
) -> anyhow::Result<u8> {
    let addr = listen.unwrap_or(plan.settings.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let app = App::build(plan).await.context("cannot start")?;
    // From here on SIGHUP means "reload", never the default "terminate": the daemon listens
    // for it a moment later, and a reload asked for right after start must not kill it.
    #[cfg(unix)]
    let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot handle SIGHUP")?;
    eprintln!(
        "syncwatch serve: {} checks from {}; listening on http://{}",
        app.plan.checks.len(),
        path.display(),
        listener.local_addr()?
    );
    let opts = daemon::Options {
        watch_interval,
        grace,
        router: syncwatch::web::router,
    };
    daemon::serve(path, app, listener, Clock::System, opts, stop_signal()).await?;
    eprintln!("syncwatch serve: stopped");
    Ok(0)
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
