//! Incidents and their timeline in the store: the rows of incidents opened with a page,
//! acknowledged, escalated, resolved; every event of a check kept in order for the retro; calls
//! (incident channels) and handoffs. What changes them, and the messages they send, is decided
//! in `respond`; these are the typed reads and writes it uses.

use super::sql::Tx;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, Row};

/// One incident, as `syncwatch incidents` and the API show it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
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
    /// Who was tagged in besides the Prog Lead, and why (an area's experts, a pinch hitter).
    pub tagged: Vec<Tag>,
    /// A retro is required whatever the incident's length (a critical check or report).
    pub retro_required: bool,
    /// When its retro is due (a date in the on-call zone), once it is resolved and needs one.
    pub retro_due: Option<String>,
    pub retro_done_at: Option<DateTime<Utc>>,
    /// Where the retro is written.
    pub retro_doc: Option<String>,
}

/// A person tagged in on an incident, and why.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub member: String,
    pub why: String,
}

/// An action item a retro assigned.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionItem {
    pub id: i64,
    pub incident: i64,
    pub text: String,
    pub owner: String,
    pub due: Option<String>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

/// The dedup key prefix of incidents raised by hand (a user's report).
pub const RAISED_PREFIX: &str = "syncwatch/raised/";

impl Incident {
    /// Raised by a person (CLI, API, Slack), not opened by a failing check's page.
    pub fn raised(&self) -> bool {
        self.dedup_key.starts_with(RAISED_PREFIX)
    }

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
     acked_at, acked_by, escalated_at, call_name, statuspage_id, resolved_at, resolved_by, resolve_note, \
     tagged, retro_required, retro_due, retro_done_at, retro_doc";
pub(crate) const ADD_EVENT: &str =
    "INSERT INTO events (at, check_name, kind, actor, detail) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const OPEN: &str = "INSERT INTO incidents (dedup_key, check_name, source, severity, summary, since, opened_at, prog_lead, route, tagged, retro_required) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dedup_key) DO NOTHING";
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

impl<'r, R: Row> FromRow<'r, R> for Incident
where
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(r: &'r R) -> Result<Self, sqlx::Error> {
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
            tagged: r
                .try_get::<Option<String>, _>("tagged")?
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            retro_required: r.try_get::<i64, _>("retro_required")? != 0,
            retro_due: r.try_get("retro_due")?,
            retro_done_at: r.try_get("retro_done_at")?,
            retro_doc: r.try_get("retro_doc")?,
        })
    }
}

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
        self.all(&sql, &[limit.into()]).await
    }

    pub async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        self.optional(&by_id(), &[id.into()]).await
    }

    /// The incident's timeline: every event of its check from the first failing run until it
    /// was resolved (or now), oldest first.
    pub async fn timeline(&self, inc: &Incident) -> Result<Vec<Event>, StoreError> {
        // After the resolve, only the deliveries it caused belong to this incident.
        const SQL: &str = "SELECT at, check_name, kind, actor, detail FROM events \
            WHERE check_name = $1 AND at >= $2 AND (at <= $3 OR (at <= $4 AND kind IN ('delivered', 'status_page'))) \
            ORDER BY at, id";
        // Not `DateTime::MAX_UTC`: SQLite compares the stored text, and "+262142-…" sorts
        // before every real date, which left an open incident's timeline empty.
        let forever = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
            .expect("a valid instant")
            .with_timezone(&Utc);
        let until = inc.resolved_at.unwrap_or(forever);
        let trailing = inc
            .resolved_at
            .map_or(forever, |t| t + chrono::Duration::minutes(15));
        let args = [
            (&inc.check).into(),
            inc.since.into(),
            until.into(),
            trailing.into(),
        ];
        let rows: Vec<EventRow> = self.all(SQL, &args).await?;
        Ok(rows
            .into_iter()
            .map(|(at, check, kind, actor, detail)| Event {
                at,
                check,
                kind,
                actor,
                detail,
            })
            .collect())
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
        // One statement, not a transaction: deliveries call this while others are in flight.
        self.execute(ADD_EVENT, &event_args(at, check, kind, actor, detail))
            .await?;
        Ok(())
    }

    /// The incident a dedup key opened.
    pub async fn incident_by_key(&self, key: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE dedup_key = $1");
        self.optional(&sql, &[key.into()]).await
    }

    pub async fn set_statuspage_id(&self, key: &str, sp_id: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE incidents SET statuspage_id = $2 WHERE dedup_key = $1";
        self.execute(SQL, &[key.into(), sp_id.into()]).await?;
        Ok(())
    }

    /// Incidents opened from `since` on, oldest first.
    pub async fn incidents_since(&self, since: DateTime<Utc>) -> Result<Vec<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE opened_at >= $1 ORDER BY id");
        self.all(&sql, &[since.into()]).await
    }

    /// Timeline events of one kind and detail from `since` on.
    pub async fn count_events(
        &self,
        kind: &str,
        detail: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        const SQL: &str =
            "SELECT COUNT(*) FROM events WHERE kind = $1 AND detail = $2 AND at >= $3";
        let (n,): (i64,) = self
            .one(SQL, &[kind.into(), detail.into(), since.into()])
            .await?;
        Ok(n)
    }

    /// (open, open and unacknowledged) incidents, for the metrics.
    pub async fn incident_counts(&self) -> Result<(i64, i64), StoreError> {
        const SQL: &str =
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN acked_at IS NULL THEN 1 ELSE 0 END), 0) \
            FROM incidents WHERE resolved_at IS NULL";
        self.one(SQL, &[]).await
    }

    /// A called incident's Slack channel id, once known.
    pub async fn call_channel(&self, name: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT channel_id FROM calls WHERE name = $1";
        let row: Option<(Option<String>,)> = self.optional(SQL, &[name.into()]).await?;
        Ok(row.and_then(|(c,)| c))
    }

    pub async fn set_call_channel(&self, name: &str, channel: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE calls SET channel_id = $2 WHERE name = $1";
        self.execute(SQL, &[name.into(), channel.into()]).await?;
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
        let ids: Vec<(i64,)> = self.all(SQL, &[before.into()]).await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    pub async fn handoff_announced(&self, at: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM handoffs WHERE at = $1";
        let (n,): (i64,) = self.one(SQL, &[at.into()]).await?;
        Ok(n > 0)
    }
}

type EventRow = (DateTime<Utc>, String, String, Option<String>, String);

fn event_args<'a>(
    at: DateTime<Utc>,
    check: &'a str,
    kind: &'a str,
    actor: Option<&'a str>,
    detail: &'a str,
) -> [super::sql::Arg<'a>; 5] {
    [
        at.into(),
        check.into(),
        kind.into(),
        actor.into(),
        detail.into(),
    ]
}

fn by_id() -> String {
    format!("SELECT {COLUMNS} FROM incidents WHERE id = $1")
}

/// An open incident of a source (or of one dedup key): id, check, call.
pub type OpenIncident = (i64, String, Option<String>);

/// The typed writes a run, a person or a timer makes to incidents, inside one transaction.
impl Tx {
    /// Appends one event to a check's timeline.
    pub async fn add_event(
        &mut self,
        at: DateTime<Utc>,
        check: &str,
        kind: &str,
        actor: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        let args = event_args(at, check, kind, actor, detail);
        self.conn().execute(ADD_EVENT, &args).await?;
        Ok(())
    }

    /// Opens the incident (a repeated key changes nothing).
    pub async fn open_incident(&mut self, inc: &Incident) -> Result<(), StoreError> {
        let tagged = (!inc.tagged.is_empty())
            .then(|| serde_json::to_string(&inc.tagged).expect("tags serialize"));
        let args = [
            (&inc.dedup_key).into(),
            (&inc.check).into(),
            (&inc.source).into(),
            (&inc.severity).into(),
            (&inc.summary).into(),
            inc.since.into(),
            inc.opened_at.into(),
            (&inc.prog_lead).into(),
            (&inc.route).into(),
            tagged.as_deref().into(),
            i64::from(inc.retro_required).into(),
        ];
        self.conn().execute(OPEN, &args).await?;
        Ok(())
    }

    /// How many incidents are open with `lead` as their Prog Lead.
    pub async fn open_for_lead(&mut self, lead: &str) -> Result<usize, StoreError> {
        const SQL: &str =
            "SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL AND prog_lead = $1";
        let (n,): (i64,) = self.conn().one(SQL, &[lead.into()]).await?;
        Ok(n.max(0) as usize)
    }

    /// The open incidents of a source, oldest first.
    pub async fn open_on_source(&mut self, source: &str) -> Result<Vec<OpenIncident>, StoreError> {
        Ok(self
            .conn()
            .all(OPEN_ON_SOURCE_CHECKS, &[source.into()])
            .await?)
    }

    /// The incident of one dedup key, as `open_on_source` gives them.
    pub async fn open_by_key(&mut self, key: &str) -> Result<Vec<OpenIncident>, StoreError> {
        Ok(self.conn().all(OPEN_BY_KEY, &[key.into()]).await?)
    }

    /// Records a call; false if it existed already.
    pub async fn add_call(
        &mut self,
        name: &str,
        source: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let args = [name.into(), source.into(), at.into()];
        Ok(self.conn().execute(ADD_CALL, &args).await? > 0)
    }

    /// Puts incident `id` into a call, unless it is in one.
    pub async fn set_call(&mut self, id: i64, name: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(SET_CALL, &[id.into(), name.into()])
            .await?;
        Ok(())
    }

    /// The notifiers that were told about an incident.
    pub async fn told(&mut self, key: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = self.conn().all(TOLD, &[key.into()]).await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    /// The call an incident is in.
    pub async fn call_of(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = self.conn().optional(CALL_OF, &[key.into()]).await?;
        Ok(row.and_then(|(c,)| c))
    }

    /// Resolves the incident of a dedup key, if open.
    pub async fn resolve_by_key(
        &mut self,
        key: &str,
        at: DateTime<Utc>,
        by: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        let args = [key.into(), at.into(), by.into(), note.into()];
        self.conn().execute(RESOLVE, &args).await?;
        Ok(())
    }

    /// Ends a call once no open incident is left in it.
    pub async fn close_call(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn()
            .execute(CLOSE_CALL, &[name.into(), at.into()])
            .await?;
        Ok(())
    }

    /// Applies a change to incident `id` if it still applies (so two replicas, or a person and a
    /// timer, never make it twice); then the incident as it is. `None`: no such incident.
    pub async fn change_incident(
        &mut self,
        id: i64,
        change: Change<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<(bool, Incident)>, StoreError> {
        let (update, by, note) = match change {
            Change::Ack { by } => ("UPDATE incidents SET acked_at = $2, acked_by = $3 WHERE id = $1 AND acked_at IS NULL AND resolved_at IS NULL", by, ""),
            Change::Resolve { by, note } => ("UPDATE incidents SET resolved_at = $2, resolved_by = $3, resolve_note = $4 WHERE id = $1 AND resolved_at IS NULL", by, note),
            Change::Escalate => ("UPDATE incidents SET escalated_at = $2 WHERE id = $1 AND escalated_at IS NULL AND acked_at IS NULL AND resolved_at IS NULL", "syncwatch", ""),
        };
        let args = [id.into(), now.into(), by.into(), note.into()];
        let changed = self.conn().execute(update, &args).await? > 0;
        let inc: Option<Incident> = self.conn().optional(&by_id(), &[id.into()]).await?;
        Ok(inc.map(|inc| (changed, inc)))
    }

    /// Records the handoff at `at`; false if it was announced already.
    pub async fn add_handoff(
        &mut self,
        at: DateTime<Utc>,
        member: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "INSERT INTO handoffs (at, member) VALUES ($1, $2) ON CONFLICT (at) DO NOTHING";
        Ok(self
            .conn()
            .execute(SQL, &[at.into(), member.into()])
            .await?
            > 0)
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
    pub fn last_run(&self, kind: &crate::check::CheckKind) -> super::LastRun {
        use crate::verdict::{Observed, Outcome, Verdict};
        let observed = match (self.age_seconds, self.value, kind) {
            (Some(age_seconds), _, _) => Observed::Age {
                age_seconds,
                newest: self.newest_at,
            },
            (None, Some(v), crate::check::CheckKind::Http(_)) => {
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

impl<'r, R: Row> FromRow<'r, R> for PastRun
where
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(r: &'r R) -> Result<Self, sqlx::Error> {
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
        let args = [check.into(), from.into(), to.into(), limit.into()];
        self.all(SQL, &args).await
    }

    /// The last `n` runs since `since` of every check (newest last), for the status page.
    pub async fn recent_runs(
        &self,
        n: i64,
        since: DateTime<Utc>,
        only: Option<&[&str]>,
    ) -> Result<Vec<PastRun>, StoreError> {
        let mut sql = String::from(
            "SELECT check_name, started_at, verdict, newest_at, reason, age_seconds, value FROM ( \
             SELECT check_name, started_at, verdict, newest_at, reason, age_seconds, value, \
                    ROW_NUMBER() OVER (PARTITION BY check_name ORDER BY started_at DESC) AS k FROM runs WHERE started_at > $2",
        );
        let mut args = vec![n.into(), since.into()];
        if let Some(names) = only {
            if names.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND check_name IN (");
            super::sql::push_list(&mut sql, &mut args, names, 3);
        }
        sql.push_str(") r WHERE k <= $1 ORDER BY check_name, started_at");
        self.all(&sql, &args).await
    }
}

/// An update the Prog Lead posted on an incident.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentUpdate {
    pub incident: i64,
    pub at: DateTime<Utc>,
    /// investigating, identified, monitoring or resolved.
    pub status: String,
    pub message: String,
    /// Posted to the status pages partners read.
    pub public: bool,
    pub by: Option<String>,
}

type UpdateRow = (i64, DateTime<Utc>, String, String, i64, Option<String>);

impl Store {
    /// Whether a vendor's webhook event was handled already.
    pub async fn inbound_seen(&self, vendor: &str, id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM inbound_events WHERE vendor = $1 AND event_id = $2";
        let (n,): (i64,) = self.one(SQL, &[vendor.into(), id.into()]).await?;
        Ok(n > 0)
    }

    /// Records a vendor's webhook event as handled; false if it was already.
    pub async fn inbound_handled(
        &self,
        vendor: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "INSERT INTO inbound_events (vendor, event_id, received_at) VALUES ($1, $2, $3) \
            ON CONFLICT (vendor, event_id) DO NOTHING";
        Ok(self
            .execute(SQL, &[vendor.into(), id.into(), at.into()])
            .await?
            > 0)
    }

    /// The updates posted on incidents `ids`, newest first (`public_only`: those partners read).
    pub async fn incident_updates(
        &self,
        ids: &[i64],
        public_only: bool,
    ) -> Result<Vec<IncidentUpdate>, StoreError> {
        let mut out = Vec::new();
        // One query per incident: a status page shows a handful of open incidents.
        for id in ids {
            let filter = if public_only { "AND public = 1" } else { "" };
            let sql = format!(
                "SELECT incident_id, at, status, message, public, by_name FROM incident_updates \
                 WHERE incident_id = $1 {filter} ORDER BY at DESC, id DESC LIMIT 50"
            );
            let rows: Vec<UpdateRow> = self.all(&sql, &[(*id).into()]).await?;
            out.extend(
                rows.into_iter()
                    .map(
                        |(incident, at, status, message, public, by)| IncidentUpdate {
                            incident,
                            at,
                            status,
                            message,
                            public: public == 1,
                            by,
                        },
                    ),
            );
        }
        Ok(out)
    }
}

impl Tx {
    /// The incident with this id.
    pub async fn incident(&mut self, id: i64) -> Result<Option<Incident>, StoreError> {
        Ok(self.conn().optional(&by_id(), &[id.into()]).await?)
    }

    /// The incident a dedup key opened.
    pub async fn incident_by_key(&mut self, key: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE dedup_key = $1");
        Ok(self.conn().optional(&sql, &[key.into()]).await?)
    }

    pub async fn add_update(&mut self, u: &IncidentUpdate) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO incident_updates (incident_id, at, status, message, public, by_name) \
            VALUES ($1, $2, $3, $4, $5, $6)";
        let args = [
            u.incident.into(),
            u.at.into(),
            (&u.status).into(),
            (&u.message).into(),
            i64::from(u.public).into(),
            (&u.by).into(),
        ];
        self.conn().execute(SQL, &args).await?;
        Ok(())
    }
}
