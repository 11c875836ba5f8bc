//! Restarting a sync, the first response to stale data: the three restart actions (Kubernetes
//! rollout restart, a webhook, a command) carried out from the outbox, and the RBAC manifests
//! the Kubernetes targets need (`rbac`). The decision to restart is `policy`'s; cooldowns and
//! the restart history are kept by `respond` in the store.

pub mod action;
pub mod rbac;

use crate::app::App;
use crate::notify::http::{describe, send, Delivery, TIMEOUT};
use crate::store::OutboxItem;
use action::RestartAction;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::Duration;

/// Carries out a restart decided for `item`'s check. `restarted_at` was fixed at decision time.
pub async fn deliver(app: &App, item: &OutboxItem, restarted_at: &str) -> Delivery {
    let Some(restart) = app
        .index_of(&item.check)
        .and_then(|i| app.plan.checks[i].on_failure.as_ref()?.restart.as_ref())
    else {
        return Delivery::GiveUp(format!(
            "check \"{}\" no longer has a restart action",
            item.check
        ));
    };
    let at = restarted_at.to_string();
    match &restart.action {
        RestartAction::Kubernetes {
            namespace,
            deployment,
        } => kubernetes(app, namespace, deployment, &at).await,
        RestartAction::Webhook {
            url,
            method,
            headers,
            body,
        } => {
            let mut r = app
                .probes
                .http
                .request(method.clone(), url.0.clone())
                .header("Idempotency-Key", &item.dedup_key);
            for (k, v) in headers {
                r = r.header(k.as_str(), v.expose_secret());
            }
            if let Some(b) = body {
                r = r
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            send(r.timeout(TIMEOUT), false).await
        }
        RestartAction::Command(argv) => command(argv, &item.check).await,
    }
}

/// `kubectl rollout restart`: refuse a paused Deployment, then a strategic-merge PATCH of the
/// restartedAt annotation. The timestamp was fixed when the restart was decided, so a redelivery
/// patches the same value and does not roll the pods again.
async fn kubernetes(app: &App, ns: &str, name: &str, at: &str) -> Delivery {
    let Some(kube) = &app.kube else {
        return Delivery::GiveUp(
            "no Kubernetes API: set `kubernetes.api_url` or run in a cluster".into(),
        );
    };
    let url = format!(
        "{}/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        kube.base.trim_end_matches('/')
    );
    let auth = |r: reqwest::RequestBuilder| match &kube.token {
        Some(t) => r.bearer_auth(t.expose_secret()),
        None => r,
    };
    let got = match auth(kube.client.get(&url)).timeout(TIMEOUT).send().await {
        Ok(r) => r,
        Err(e) => {
            return Delivery::Retry {
                after: None,
                error: describe(&e),
            }
        }
    };
    let status = got.status();
    if !status.is_success() {
        let text = got.text().await.unwrap_or_default();
        return match status.as_u16() {
            429 | 500..=599 => Delivery::Retry {
                after: None,
                error: format!("GET deployment: {status}"),
            },
            _ => Delivery::GiveUp(format!(
                "GET deployment {ns}/{name}: {status}: {}",
                text.chars().take(200).collect::<String>()
            )),
        };
    }
    let dep: Value = got.json().await.unwrap_or_default();
    if dep["spec"]["paused"] == Value::Bool(true) {
        return Delivery::GiveUp(format!(
            "deployment {ns}/{name} is paused; not restarting it"
        ));
    }
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}}});
    let req = auth(kube.client.patch(&url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/strategic-merge-patch+json",
        )
        .body(patch.to_string());
    send(req.timeout(TIMEOUT), false).await
}

/// Runs the program without a shell, for at most 50 s (less than the outbox lease, so no other
/// dispatcher takes the restart over while it runs). Commands are not idempotent: a failure is
/// not retried.
async fn command(argv: &[String], check: &str) -> Delivery {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env("SYNCWATCH_CHECK", check)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    match tokio::time::timeout(Duration::from_secs(50), cmd.output()).await {
        Err(_) => Delivery::GiveUp(format!("{} did not finish within 50s", argv[0])),
        Ok(Err(e)) => Delivery::GiveUp(format!("cannot run {}: {e}", argv[0])),
        Ok(Ok(out)) if out.status.success() => Delivery::Delivered,
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: String = err
                .trim()
                .chars()
                .rev()
                .take(300)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Delivery::GiveUp(format!("{} exited with {}: {tail}", argv[0], out.status))
        }
    }
}
