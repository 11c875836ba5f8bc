//! Delivers one outbox job: reads it (typed; older rows by the rules of their time) and hands
//! it to its vendor's module or to `restart`. Answers are classified in `http`.

use super::http::Delivery;
use super::job::Job;
use super::{console, pagerduty, slack, statuspage, webhook};
use crate::app::App;
use crate::notify::notifier::{NotifierKind, SlackTarget};
use crate::store::OutboxItem;

/// The job an outbox row holds, or why it cannot be read.
pub fn job(app: &App, item: &OutboxItem) -> Result<Job, String> {
    let kind = app
        .plan
        .settings
        .notifiers
        .get(&item.notifier)
        .map(|n| n.kind.label());
    Job::read(&item.payload, &item.notifier, &item.event, kind)
        .ok_or_else(|| format!("outbox row {} holds no job this version can read", item.id))
}

pub async fn deliver(app: &App, item: &OutboxItem, job: &Job) -> Delivery {
    if let Job::Restart { restarted_at, .. } = job {
        return crate::restart::deliver(app, item, restarted_at).await;
    }
    if let Job::SlackResponse { url, body } = job {
        return slack::respond(&app.probes.http, url, body).await;
    }
    let Some(notifier) = app.plan.settings.notifiers.get(&item.notifier) else {
        return Delivery::GiveUp(format!(
            "notifier \"{}\" is no longer configured",
            item.notifier
        ));
    };
    let http = &app.probes.http;
    match (&notifier.kind, job) {
        (
            NotifierKind::PagerDuty {
                routing_key,
                base_url,
                ..
            },
            Job::PagerDutyEvent { body },
        ) => pagerduty::deliver(http, routing_key, base_url, "v2/enqueue", body).await,
        (
            NotifierKind::PagerDuty {
                routing_key,
                base_url,
                ..
            },
            Job::PagerDutyChange { body },
        ) => pagerduty::deliver(http, routing_key, base_url, "v2/change/enqueue", body).await,
        (NotifierKind::Slack { target, base_url }, Job::Slack { body }) => {
            slack::deliver(http, target, base_url, body).await
        }
        (
            NotifierKind::Slack {
                target: SlackTarget::Bot { token, .. },
                base_url,
            },
            Job::SlackCall {
                channel,
                create,
                invite,
                body,
            },
        ) => {
            let call = (channel.as_str(), *create, invite.as_slice());
            slack::deliver_call(app, item, token, base_url, call, body).await
        }
        (
            NotifierKind::Statuspage(sp),
            Job::Statuspage {
                component,
                status,
                incident,
            },
        ) => {
            statuspage::deliver(
                app,
                item,
                sp,
                component.as_deref(),
                status,
                incident.as_ref(),
            )
            .await
        }
        (NotifierKind::Console, Job::Slack { body }) => {
            console::deliver(&item.notifier, item.event.as_str(), body)
        }
        (NotifierKind::Webhook { url, headers }, Job::Webhook { body }) => {
            let key = format!("{}/{}/{}", item.dedup_key, item.event, item.id);
            webhook::deliver(http, &url.0, headers, &key, body).await
        }
        (kind, job) => Delivery::GiveUp(format!(
            "notifier \"{}\" is now a {} notifier; it cannot take this {} message",
            item.notifier,
            kind.label(),
            job_label(job)
        )),
    }
}

fn job_label(job: &Job) -> &'static str {
    match job {
        Job::PagerDutyEvent { .. } | Job::PagerDutyChange { .. } => "PagerDuty",
        Job::Slack { .. } => "Slack",
        Job::SlackCall { .. } => "Slack incident-channel",
        Job::SlackResponse { .. } => "Slack response",
        Job::Statuspage { .. } => "Statuspage",
        Job::Webhook { .. } => "webhook",
        Job::Restart { .. } => "restart",
    }
}
