//! Who is told what for each action of a run: the one-line summary every channel shares, the
//! route's notifiers (plus, for a resolve, every notifier told about the incident), and the
//! restart itself; each vendor module renders its own job. Pure. Written for a tired engineer
//! at 3 a.m.: what is wrong, how stale, since when, what was already tried, and the runbook.

use super::context::{target, Context};
use super::job::{Envelope, Job};
use super::{pagerduty, slack, statuspage, webhook};
use crate::config::Settings;
use crate::notify::notifier::NotifierKind;
use crate::policy::{Action, FixedBy, Gate, Notice};
use chrono::{DateTime, Utc};

pub const RESTART: &str = "restart";

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// The one-line summary every channel shares (PagerDuty limits it to 1024 characters).
pub fn summary(action: &Action, ctx: &Context<'_>) -> String {
    let c = &ctx.check.name;
    // A reason can hold a partner's text (a database error, a value, an HTTP body): capped.
    let what = super::context::cap(
        ctx.outcome
            .reason
            .as_deref()
            .unwrap_or(ctx.outcome.verdict.label()),
        600,
    );
    let since = ctx
        .state
        .since
        .map(|t| format!(", failing since {}", hm(t)))
        .unwrap_or_default();
    let text = match action {
        Action::Page {
            broken: true,
            reminder,
            ..
        } => {
            format!(
                "{}{c} cannot be checked: {what}{since}",
                if *reminder { "Still failing: " } else { "" }
            )
        }
        Action::Page {
            reminder,
            restart_skipped,
            ..
        } => {
            let tried = match (ctx.state.restarted_at, restart_skipped, target(ctx)) {
                (Some(at), _, Some(t)) => format!(
                    "; restarted {t} at {}, still failing at the re-check",
                    hm(at)
                ),
                (None, Some(Gate::Cooldown { until }), Some(t)) => {
                    format!("; restart of {t} skipped: in cooldown until {}", hm(*until))
                }
                (None, Some(Gate::Exhausted { count }), Some(t)) => {
                    let window = ctx
                        .check
                        .on_failure
                        .as_ref()
                        .and_then(|o| o.restart.as_ref())
                        .map(|r| crate::duration::human(r.window.as_secs_f64()))
                        .unwrap_or_default();
                    format!(
                        "; restart of {t} skipped: restarted {count} times in the last {window} (max_restarts)"
                    )
                }
                _ => String::new(),
            };
            format!(
                "{}{c}: {what}{since}{tried}",
                if *reminder { "Still failing: " } else { "" }
            )
        }
        Action::Notify(Notice::Warning) => format!("{c}: {what}"),
        Action::Notify(Notice::Cleared) => format!("{c} passes again; the warning is over"),
        Action::Notify(Notice::AutoRemediated { restarted_at }) => format!(
            "{c} is fresh again after restarting {} at {}; no page was needed",
            target(ctx).unwrap_or_else(|| "the sync".into()),
            hm(*restarted_at)
        ),
        Action::Resolve {
            fixed_by,
            opened_at,
            ..
        } => {
            let lasted = crate::duration::human((ctx.now - *opened_at).num_seconds() as f64);
            let how = match fixed_by {
                FixedBy::Restart { at } => format!(
                    "fixed by restarting {} at {}",
                    target(ctx).unwrap_or_else(|| "the sync".into()),
                    hm(*at)
                ),
                FixedBy::DataRefreshed => "the data refreshed".into(),
            };
            format!("Resolved: {c} passes again after {lasted}; {how}")
        }
        Action::Restart => format!(
            "syncwatch restarted {} because {c}: {what}",
            target(ctx).unwrap_or_default()
        ),
    };
    text.chars().take(1024).collect()
}

/// The messages for one action, one per notifier of its route (and the restart itself).
pub fn render(action: &Action, ctx: &Context<'_>) -> Vec<Envelope> {
    let Some(rules) = &ctx.check.on_failure else {
        return Vec::new();
    };
    let text = summary(action, ctx);
    let (event, key, route) = match action {
        Action::Page { key, reminder, .. } => (
            if *reminder { "reminder" } else { "page" },
            key.clone(),
            rules.page.as_ref(),
        ),
        Action::Resolve { key, .. } => ("resolve", key.clone(), rules.page.as_ref()),
        Action::Notify(_) => (
            "notify",
            format!(
                "syncwatch/{}/notice/{}",
                ctx.check.name,
                ctx.now.timestamp()
            ),
            rules.notify.as_ref().or(rules.page.as_ref()),
        ),
        Action::Restart => {
            let key = format!(
                "syncwatch/{}/restart/{}",
                ctx.check.name,
                ctx.now.timestamp()
            );
            let mut out = vec![Envelope {
                notifier: RESTART.into(),
                event: "restart",
                dedup_key: key.clone(),
                job: Job::Restart {
                    target: target(ctx),
                    restarted_at: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                },
            }];
            // Restarts are also recorded as PagerDuty change events, which never notify.
            for n in route_members(ctx.settings, rules.page.as_ref()) {
                if let Some(NotifierKind::PagerDuty {
                    change_events: true,
                    ..
                }) = ctx.settings.notifiers.get(&n).map(|n| &n.kind)
                {
                    out.push(Envelope {
                        notifier: n,
                        event: "change",
                        dedup_key: key.clone(),
                        job: pagerduty::change(&text, ctx),
                    });
                }
            }
            return out;
        }
    };
    let mut names = route_members(ctx.settings, route);
    if let Action::Resolve { .. } = action {
        for n in &ctx.told {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let mut out: Vec<Envelope> = names
        .into_iter()
        .filter_map(|name| {
            let kind = &ctx.settings.notifiers.get(&name)?.kind;
            let job = match (kind, action) {
                // Notices never page: PagerDuty only gets pages, reminders and resolves.
                (NotifierKind::PagerDuty { .. }, Action::Notify(_)) => return None,
                (NotifierKind::PagerDuty { .. }, Action::Resolve { .. }) => {
                    pagerduty::follow_up("resolve", &key)
                }
                (NotifierKind::PagerDuty { .. }, _) => pagerduty::trigger(&text, &key, action, ctx),
                (
                    NotifierKind::Slack { .. } | NotifierKind::Console,
                    Action::Notify(Notice::Cleared | Notice::AutoRemediated { .. }),
                ) => slack::message(&text, "resolve", ctx),
                (NotifierKind::Slack { .. }, Action::Page { .. })
                    if slack::buttons_for(ctx.settings, &name) =>
                {
                    match slack::message(&text, event, ctx) {
                        Job::Slack { body } => Job::Slack {
                            body: slack::with_buttons(body, &key),
                        },
                        other => other,
                    }
                }
                (NotifierKind::Slack { .. } | NotifierKind::Console, _) => {
                    slack::message(&text, event, ctx)
                }
                (NotifierKind::Webhook { .. }, _) => webhook::event(&text, event, &key, ctx),
                (NotifierKind::Statuspage(sp), _) => statuspage::for_action(sp, action, ctx)?,
            };
            Some(Envelope {
                notifier: name,
                event,
                dedup_key: key.clone(),
                job,
            })
        })
        .collect();
    // The incident's own channel hears how it ended.
    if let (Action::Resolve { .. }, Some(name), Some(rules)) =
        (action, &ctx.call, &ctx.settings.incidents.call)
    {
        out.push(Envelope {
            notifier: rules.slack.clone(),
            event: "call",
            dedup_key: key.clone(),
            job: slack::call_post(name, false, Vec::new(), &text, "resolve", ctx.settings),
        });
    }
    out
}

fn route_members(settings: &Settings, route: Option<&String>) -> Vec<String> {
    route
        .and_then(|r| settings.routes.get(r))
        .cloned()
        .unwrap_or_default()
}
