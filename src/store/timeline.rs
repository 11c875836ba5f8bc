//! What a run adds to incidents, inside the run's transaction: its timeline lines, the incident
//! a page opens (and calling it, for a critical check or several failing on one source), and
//! closing the incident a resolve ends.

/// Runs after `decide`, before the run's messages are rendered. Evaluates to what rendering
/// needs: (the called incident's channel name, the notifiers told about the incident resolved).
macro_rules! track_in_tx {
    ($tx:expr, $check:expr, $prev:expr, $decision:expr, $outcome:expr, $settings:expr, $now:expr) => {{
        let (check, prev, decision, outcome, settings, now): (
            &$crate::model::Check,
            &$crate::policy::PolicyState,
            &$crate::policy::Decision,
            &$crate::verdict::Outcome,
            &$crate::config::Settings,
            chrono::DateTime<chrono::Utc>,
        ) = ($check, $prev, $decision, $outcome, $settings, $now);
        use $crate::notify::incident as ni;
        use $crate::store::incidents as si;
        for (kind, detail) in ni::run_events(check, prev, decision, outcome, settings, now) {
            $crate::store::incidents::event_in_tx!($tx, now, &check.name, kind, Some("syncwatch"), detail);
        }
        let mut call: Option<String> = None;
        let mut told: Vec<String> = Vec::new();
        let mut call_envelopes = Vec::new();
        for action in &decision.actions {
            match action {
                $crate::policy::Action::Page { key, broken, reminder: false, .. } => {
                    let summary = outcome.reason.clone().unwrap_or_else(|| outcome.verdict.to_string());
                    let summary = format!("{}: {summary}", check.name);
                    let inc = ni::opened(check, key, *broken, &summary, &decision.state, settings, now);
                    sqlx::query(si::OPEN)
                        .bind(&inc.dedup_key).bind(&inc.check).bind(&inc.source).bind(&inc.severity)
                        .bind(&inc.summary).bind(inc.since).bind(inc.opened_at).bind(&inc.prog_lead).bind(&inc.route)
                        .execute(&mut *$tx).await?;
                    if let Some(rules) = &settings.incidents.call {
                        // The open incidents of the check's source (an HTTP check has none but its own).
                        let open: Vec<(i64, String, Option<String>)> = match &check.source {
                            Some(src) => sqlx::query_as(si::OPEN_ON_SOURCE_CHECKS).bind(src).fetch_all(&mut *$tx).await?,
                            None => sqlx::query_as(si::OPEN_BY_KEY).bind(key).fetch_all(&mut *$tx).await?,
                        };
                        let existing = open.iter().find_map(|(_, _, c)| c.clone());
                        let name = if let Some(name) = existing {
                            Some(name)
                        } else if ni::critical(check) {
                            Some(ni::call_name(&rules.prefix, &check.name, now))
                        } else if open.len() >= rules.when_failing as usize {
                            check.source.as_ref().map(|s| ni::call_name(&rules.prefix, s, now))
                        } else {
                            None
                        };
                        if let Some(name) = name {
                            let fresh = sqlx::query(si::ADD_CALL).bind(&name).bind(&check.source).bind(now)
                                .execute(&mut *$tx).await?.rows_affected() > 0;
                            // A critical check's call covers it alone; a source's covers all its open incidents.
                            let covered: Vec<(i64, String)> = if ni::critical(check) && !open.iter().any(|(_, _, c)| c.as_ref() == Some(&name)) {
                                open.iter().filter(|(_, c, _)| c == &check.name).map(|(id, c, _)| (*id, c.clone())).collect()
                            } else {
                                open.iter().filter(|(_, _, c)| c.is_none()).map(|(id, c, _)| (*id, c.clone())).collect()
                            };
                            for (id, _) in &covered {
                                sqlx::query(si::SET_CALL).bind(id).bind(&name).execute(&mut *$tx).await?;
                            }
                            let mut names: Vec<String> = covered.iter().map(|(_, c)| c.clone()).collect();
                            names.sort();
                            call_envelopes.extend(ni::call(&name, &names, &summary, key, !fresh, settings, now));
                            let what = if fresh { "incident called" } else { "joined the incident" };
                            $crate::store::incidents::event_in_tx!($tx, now, &check.name, "call",
                                Some("syncwatch"), format!("{what}: #{name}"));
                            call = Some(name);
                        }
                    }
                }
                $crate::policy::Action::Resolve { key, .. } => {
                    told = sqlx::query_scalar(si::TOLD).bind(key).fetch_all(&mut *$tx).await?;
                    let name: Option<Option<String>> = sqlx::query_scalar(si::CALL_OF).bind(key).fetch_optional(&mut *$tx).await?;
                    call = name.flatten();
                    sqlx::query(si::RESOLVE).bind(key).bind(now).bind("syncwatch")
                        .bind(format!("{} passes again", check.name))
                        .execute(&mut *$tx).await?;
                    if let Some(name) = &call {
                        sqlx::query(si::CLOSE_CALL).bind(name).bind(now).execute(&mut *$tx).await?;
                    }
                }
                _ => {}
            }
        }
        $crate::store::incidents::outbox_in_tx!($tx, now, &check.name, &call_envelopes);
        (call, told)
    }};
}
pub(super) use track_in_tx;
