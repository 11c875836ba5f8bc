//! Incidents and their timeline in the store: opened with a page, acknowledged, escalated,
//! resolved; every event of a check kept in order for the retro. Messages these changes send
//! are written to the outbox in the same transaction (rendered by `notify::incident`).

use super::{with_pool, Store, StoreError};
use crate::config::Settings;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// One incident, as `syncwatch incidents` and the API show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Incident {
    pub id: i64,
    pub dedup_key: String,
    pub check: String,
    pub source: Option<String>,
    /// critical: data is stale; error: it cannot be checked.
    pub severity: String,
    pub summary: String,
    pub since: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub prog_lead: Option<String>,
    pub route: Option<String>,
    pub acked_at: Option<DateTime<Utc>>,
    pub acked_by: Option<String>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub call: Option<String>,
    pub statuspage_id: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolve_note: Option<String>,
}

impl Incident {
    pub fn status(&self) -> &'static str {
        match (self.resolved_at, self.acked_at, self.escalated_at) {
            (Some(_), _, _) => "resolved",
            (None, Some(_), _) => "acknowledged",
            (None, None, Some(_)) => "escalated",
            (None, None, None) => "open",
        }
    }
}

/// One line of a timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub check: String,
    pub kind: String,
    pub actor: Option<String>,
    pub detail: String,
}

pub(crate) const COLUMNS: &str = "id, dedup_key, check_name, source, severity, summary, since, opened_at, prog_lead, route, \
     acked_at, acked_by, escalated_at, call_name, statuspage_id, resolved_at, resolved_by, resolve_note";
pub(crate) const ADD_EVENT: &str =
    "INSERT INTO events (at, check_name, kind, actor, detail) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const OPEN: &str = "INSERT INTO incidents (dedup_key, check_name, source, severity, summary, since, opened_at, prog_lead, route) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedup_key) DO NOTHING";
pub(crate) const RESOLVE: &str =
    "UPDATE incidents SET resolved_at = $2, resolved_by = $3, resolve_note = $4 \
     WHERE dedup_key = $1 AND resolved_at IS NULL";
/// The notifiers that were told about an incident (so its resolve reaches each of them).
pub(crate) const TOLD: &str = "SELECT DISTINCT notifier FROM outbox WHERE dedup_key = $1 \
     AND event IN ('page', 'reminder', 'escalate') ORDER BY notifier";
pub(crate) const OPEN_ON_SOURCE_CHECKS: &str = "SELECT id, check_name, call_name FROM incidents \
     WHERE source = $1 AND resolved_at IS NULL ORDER BY id";
pub(crate) const OPEN_BY_KEY: &str =
    "SELECT id, check_name, call_name FROM incidents WHERE dedup_key = $1";
pub(crate) const CALL_OF: &str = "SELECT call_name FROM incidents WHERE dedup_key = $1";
/// A call ends when the last incident it covers is resolved.
pub(crate) const CLOSE_CALL: &str =
    "UPDATE calls SET resolved_at = $2 WHERE name = $1 AND resolved_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM incidents WHERE call_name = $1 AND resolved_at IS NULL)";
pub(crate) const ADD_CALL: &str =
    "INSERT INTO calls (name, source, opened_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";
pub(crate) const SET_CALL: &str =
    "UPDATE incidents SET call_name = $2 WHERE id = $1 AND call_name IS NULL";

pub(crate) fn incident_from<R: Row>(r: &R) -> Result<Incident, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> DateTime<Utc>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Incident {
        id: r.try_get("id")?,
        dedup_key: r.try_get("dedup_key")?,
        check: r.try_get("check_name")?,
        source: r.try_get("source")?,
        severity: r.try_get("severity")?,
        summary: r.try_get("summary")?,
        since: r.try_get("since")?,
        opened_at: r.try_get("opened_at")?,
        prog_lead: r.try_get("prog_lead")?,
        route: r.try_get("route")?,
        acked_at: r.try_get("acked_at")?,
        acked_by: r.try_get("acked_by")?,
        escalated_at: r.try_get("escalated_at")?,
        call: r.try_get("call_name")?,
        statuspage_id: r.try_get("statuspage_id")?,
        resolved_at: r.try_get("resolved_at")?,
        resolved_by: r.try_get("resolved_by")?,
        resolve_note: r.try_get("resolve_note")?,
    })
}

/// Appends one event to a check's timeline inside transaction `$tx`.
macro_rules! event_in_tx {
    ($tx:expr, $at:expr, $check:expr, $kind:expr, $actor:expr, $detail:expr) => {
        sqlx::query($crate::store::incidents::ADD_EVENT)
            .bind($at)
            .bind($check)
            .bind($kind)
            .bind($actor)
            .bind($detail)
            .execute(&mut *$tx)
            .await?
    };
}
pub(super) use event_in_tx;

/// Writes envelopes to the outbox inside transaction `$tx`.
macro_rules! outbox_in_tx {
    ($tx:expr, $now:expr, $check:expr, $envelopes:expr) => {
        for e in $envelopes {
            sqlx::query($crate::store::respond::ADD_OUTBOX)
                .bind($now)
                .bind($check)
                .bind(&e.notifier)
                .bind(e.event)
                .bind(&e.dedup_key)
                .bind(e.payload.to_string())
                .execute(&mut *$tx)
                .await?;
        }
    };
}
pub(super) use outbox_in_tx;

/// A change made by a person or a timer, not by a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    Ack { by: &'a str },
    Resolve { by: &'a str, note: &'a str },
    Escalate,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub enum Changed {
    Done(Incident),
    /// Nothing to do (already acknowledged, resolved or escalated).
    Already(Incident),
    NotFound,
}

impl Store {
    pub async fn incidents(
        &self,
        open_only: bool,
        limit: i64,
    ) -> Result<Vec<Incident>, StoreError> {
        let filter = if open_only {
            "WHERE resolved_at IS NULL"
        } else {
            ""
        };
        let sql = format!("SELECT {COLUMNS} FROM incidents {filter} ORDER BY id DESC LIMIT $1");
        Ok(with_pool!(self, p => {
            sqlx::query(&sql).bind(limit).fetch_all(p).await?.iter().map(incident_from).collect::<Result<Vec<_>, _>>()?
        }))
    }

    pub async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        self.incident_where("id = CAST($1 AS BIGINT)", &id.to_string())
            .await
    }

    /// One incident matching `filter` (on its id or dedup key) with `$1` bound to `value`.
    async fn incident_where(
        &self,
        filter: &str,
        value: &str,
    ) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE {filter}");
        Ok(with_pool!(self, p => {
            match sqlx::query(&sql).bind(value).fetch_optional(p).await? {
                Some(r) => Some(incident_from(&r)?),
                None => None,
            }
        }))
    }

    /// The incident's timeline: every event of its check from the first failing run until it
    /// was resolved (or now), oldest first.
    pub async fn timeline(&self, inc: &Incident) -> Result<Vec<Event>, StoreError> {
        // After the resolve, only the deliveries it caused belong to this incident.
        const SQL: &str = "SELECT at, check_name, kind, actor, detail FROM events \
            WHERE check_name = $1 AND at >= $2 AND (at <= $3 OR (at <= $4 AND kind IN ('delivered', 'status_page'))) \
            ORDER BY at, id";
        let until = inc.resolved_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
        let trailing = inc.resolved_at.map_or(DateTime::<Utc>::MAX_UTC, |t| {
            t + chrono::Duration::minutes(15)
        });
        Ok(with_pool!(self, p => {
            sqlx::query(SQL).bind(&inc.check).bind(inc.since).bind(until).bind(trailing).fetch_all(p).await?
                .iter()
                .map(|r| Ok(Event { at: r.try_get(0)?, check: r.try_get(1)?, kind: r.try_get(2)?, actor: r.try_get(3)?, detail: r.try_get(4)? }))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Appends an event outside any run (a delivery, a status page change).
    pub async fn add_event(
        &self,
        at: DateTime<Utc>,
        check: &str,
        kind: &str,
        actor: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, p => {
            sqlx::query(ADD_EVENT).bind(at).bind(check).bind(kind).bind(actor).bind(detail).execute(p).await?;
        });
        Ok(())
    }

    /// The incident a dedup key opened.
    pub async fn incident_by_key(&self, key: &str) -> Result<Option<Incident>, StoreError> {
        self.incident_where("dedup_key = $1", key).await
    }

    pub async fn set_statuspage_id(&self, key: &str, sp_id: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE incidents SET statuspage_id = $2 WHERE dedup_key = $1";
        with_pool!(self, p => { sqlx::query(SQL).bind(key).bind(sp_id).execute(p).await?; });
        Ok(())
    }

    /// (open, open and unacknowledged) incidents, for the metrics.
    pub async fn incident_counts(&self) -> Result<(i64, i64), StoreError> {
        const SQL: &str =
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN acked_at IS NULL THEN 1 ELSE 0 END), 0) \
            FROM incidents WHERE resolved_at IS NULL";
        Ok(with_pool!(self, p => sqlx::query_as::<_, (i64, i64)>(SQL).fetch_one(p).await?))
    }

    /// A called incident's Slack channel id, once known.
    pub async fn call_channel(&self, name: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT channel_id FROM calls WHERE name = $1";
        Ok(
            with_pool!(self, p => sqlx::query_scalar::<_, Option<String>>(SQL).bind(name).fetch_optional(p).await?.flatten()),
        )
    }

    pub async fn set_call_channel(&self, name: &str, channel: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE calls SET channel_id = $2 WHERE name = $1";
        with_pool!(self, p => { sqlx::query(SQL).bind(name).bind(channel).execute(p).await?; });
        Ok(())
    }

    /// Unacknowledged incidents past the ack timeout, not yet escalated.
    pub async fn due_escalations(
        &self,
        now: DateTime<Utc>,
        ack_timeout: std::time::Duration,
    ) -> Result<Vec<i64>, StoreError> {
        const SQL: &str =
            "SELECT id FROM incidents WHERE resolved_at IS NULL AND acked_at IS NULL \
            AND escalated_at IS NULL AND opened_at <= $1 ORDER BY id";
        let before = now - chrono::Duration::from_std(ack_timeout).unwrap_or_default();
        Ok(with_pool!(self, p => sqlx::query_scalar(SQL).bind(before).fetch_all(p).await?))
    }

    /// Acknowledges, resolves or escalates incident `id`, with its timeline event and messages,
    /// in one transaction. The row is changed only if the change still applies, so two
    /// replicas (or a person and a timer) never do it twice.
    pub async fn change_incident(
        &self,
        id: i64,
        change: Change<'_>,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Changed, StoreError> {
        let (update, kind) = match change {
            Change::Ack { .. } => ("UPDATE incidents SET acked_at = $2, acked_by = $3 WHERE id = $1 AND acked_at IS NULL AND resolved_at IS NULL", "ack"),
            Change::Resolve { .. } => ("UPDATE incidents SET resolved_at = $2, resolved_by = $3, resolve_note = $4 WHERE id = $1 AND resolved_at IS NULL", "resolve"),
            Change::Escalate => ("UPDATE incidents SET escalated_at = $2 WHERE id = $1 AND escalated_at IS NULL AND acked_at IS NULL AND resolved_at IS NULL", "escalate"),
        };
        let (by, note) = match change {
            Change::Ack { by } => (by, ""),
            Change::Resolve { by, note } => (by, note),
            Change::Escalate => ("syncwatch", ""),
        };
        let select = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1");
        let out = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let changed = sqlx::query(update).bind(id).bind(now).bind(by).bind(note).execute(&mut *tx).await?.rows_affected();
            let Some(row) = sqlx::query(&select).bind(id).fetch_optional(&mut *tx).await? else {
                return Ok(Changed::NotFound);
            };
            let inc = incident_from(&row)?;
            if changed == 0 {
                return Ok(Changed::Already(inc));
            }
            let told: Vec<String> = sqlx::query_scalar(TOLD).bind(&inc.dedup_key).fetch_all(&mut *tx).await?;
            let (detail, envelopes) = crate::notify::incident::change(&inc, change, &told, settings, now);
            event_in_tx!(tx, now, &inc.check, kind, Some(by), &detail);
            outbox_in_tx!(tx, now, &inc.check, &envelopes);
            if let Change::Resolve { .. } = change {
                // The check starts a new episode: a later failure pages afresh.
                let state: Option<String> = sqlx::query_scalar(super::respond::LOAD_STATE).bind(&inc.check).fetch_optional(&mut *tx).await?;
                let state: crate::policy::PolicyState = state.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
                if state.incident.as_ref().is_some_and(|i| i.key == inc.dedup_key) {
                    let fresh = crate::policy::reset(&state);
                    sqlx::query(super::respond::SAVE_STATE)
                        .bind(&inc.check)
                        .bind(serde_json::to_string(&fresh).expect("state serializes"))
                        .bind(fresh.recheck_at)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Changed::Done(inc)
        });
        Ok(out)
    }
}

impl Store {
    pub async fn handoff_announced(&self, at: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM handoffs WHERE at = $1";
        let n: i64 = with_pool!(self, p => sqlx::query_scalar(SQL).bind(at).fetch_one(p).await?);
        Ok(n > 0)
    }

    /// Records the handoff at `at` and queues its notice, unless it was announced already.
    pub async fn announce_handoff(
        &self,
        at: DateTime<Utc>,
        member: &str,
        route: &str,
        text: &str,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "INSERT INTO handoffs (at, member) VALUES ($1, $2) ON CONFLICT (at) DO NOTHING";
        let envelopes = crate::notify::incident::handoff(route, at, text, settings);
        Ok(with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let fresh = sqlx::query(SQL).bind(at).bind(member).execute(&mut *tx).await?.rows_affected() > 0;
            if fresh {
                outbox_in_tx!(tx, now, "(handoff)", &envelopes);
            }
            tx.commit().await?;
            fresh
        }))
    }
}

/// One past run, for retros and the status page's history strip.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PastRun {
    pub check: String,
    pub started_at: DateTime<Utc>,
    pub verdict: String,
    pub newest_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub age_seconds: Option<f64>,
    /// Row count, query number or HTTP status.
    pub value: Option<f64>,
}

impl PastRun {
    /// The run as the rest of syncwatch sees one (observed value by check kind).
    pub fn last_run(&self, kind: &crate::model::CheckKind) -> super::LastRun {
        use crate::verdict::{Observed, Outcome, Verdict};
        let observed = match (self.age_seconds, self.value, kind) {
            (Some(age_seconds), _, _) => Observed::Age {
                age_seconds,
                newest: self.newest_at,
            },
            (None, Some(v), crate::model::CheckKind::Http(_)) => {
                Observed::Status { code: v as u16 }
            }
            (None, Some(value), _) => Observed::Number { value },
            (None, None, _) => Observed::Nothing,
        };
        super::LastRun {
            started_at: self.started_at,
            duration: std::time::Duration::ZERO,
            outcome: Outcome {
                verdict: Verdict::parse(&self.verdict).unwrap_or(Verdict::Error),
                observed,
                reason: self.reason.clone(),
            },
        }
    }
}

fn past_run<R: Row>(r: &R) -> Result<PastRun, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> DateTime<Utc>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> f64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(PastRun {
        check: r.try_get(0)?,
        started_at: r.try_get(1)?,
        verdict: r.try_get(2)?,
        newest_at: r.try_get(3)?,
        reason: r.try_get(4)?,
        age_seconds: r.try_get(5)?,
        value: r.try_get(6)?,
    })
}

impl Store {
    /// A check's runs from `from` to `to`, oldest first (at most `limit`).
    pub async fn runs_between(
        &self,
        check: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<PastRun>, StoreError> {
        const SQL: &str = "SELECT check_name, started_at, verdict, newest_at, reason, age_seconds, value FROM runs \
            WHERE check_name = $1 AND started_at >= $2 AND started_at <= $3 ORDER BY started_at LIMIT $4";
        Ok(with_pool!(self, p => {
            sqlx::query(SQL).bind(check).bind(from).bind(to).bind(limit).fetch_all(p).await?
                .iter().map(past_run).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// The last `n` runs since `since` of every check (newest last), for the status page.
    pub async fn recent_runs(
        &self,
        n: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<PastRun>, StoreError> {
        const SQL: &str = "SELECT check_name, started_at, verdict, newest_at, reason, age_seconds, value FROM ( \
            SELECT check_name, started_at, verdict, newest_at, reason, age_seconds, value, \
                   ROW_NUMBER() OVER (PARTITION BY check_name ORDER BY started_at DESC) AS k FROM runs WHERE started_at > $2) r \
            WHERE k <= $1 ORDER BY check_name, started_at";
        Ok(with_pool!(self, p => {
            sqlx::query(SQL).bind(n).bind(since).fetch_all(p).await?.iter().map(past_run).collect::<Result<Vec<_>, _>>()?
        }))
    }
}
