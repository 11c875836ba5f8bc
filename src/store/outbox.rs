//! The durable outbox: messages written with the state change, claimed by a dispatcher with a
//! lease (so two dispatchers never send the same row at once), and marked delivered, retried
//! or given up.

use super::sql::Tx;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};

/// One pending message.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub check: String,
    pub notifier: String,
    pub event: String,
    pub dedup_key: String,
    /// The job, as `notify::job` wrote it (the store does not read it).
    pub payload: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

const PENDING: &str = "delivered_at IS NULL AND gave_up_at IS NULL";

/// Who claims: a dispatcher's owner name, and the notifiers it has enough in flight for.
pub struct Claimant<'a> {
    pub owner: &'a str,
    /// Notifiers whose messages are not claimed this time (their in-flight cap is reached).
    pub skip: &'a [String],
}

impl Store {
    /// Claims up to `limit` due messages for `who` until `lease_until`, oldest first. A message
    /// waits while an earlier one for the same dedup key and notifier is pending, so a receiver
    /// gets each incident's messages in order (a resolve never overtakes its trigger).
    pub async fn outbox_claim(
        &self,
        who: &Claimant<'_>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let skip = if who.skip.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..who.skip.len()).map(|i| format!("${}", i + 5)).collect();
            format!("AND o.notifier NOT IN ({})", marks.join(", "))
        };
        // The claim condition is repeated outside the subquery so that PostgreSQL re-checks it
        // on a row another dispatcher claimed meanwhile.
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1, claimed_by = $4 WHERE id IN (SELECT o.id FROM outbox o \
             WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_attempt_at <= $2 \
             AND (o.claimed_until IS NULL OR o.claimed_until < $2) {skip} \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.dedup_key = o.dedup_key AND e.notifier = o.notifier \
                 AND e.id < o.id AND e.delivered_at IS NULL AND e.gave_up_at IS NULL) \
             ORDER BY o.id LIMIT $3) \
             AND (claimed_until IS NULL OR claimed_until < $2) \
             RETURNING id, check_name, notifier, event, dedup_key, payload, attempts, created_at"
        );
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            i64,
            DateTime<Utc>,
        );
        let mut args = vec![
            lease_until.into(),
            now.into(),
            limit.into(),
            who.owner.into(),
        ];
        args.extend(who.skip.iter().map(super::sql::Arg::from));
        let rows: Vec<Row> = self.all(&sql, &args).await?;
        let mut items: Vec<OutboxItem> = rows
            .into_iter()
            .map(
                |(id, check, notifier, event, dedup_key, payload, attempts, created_at)| {
                    OutboxItem {
                        id,
                        check,
                        notifier,
                        event,
                        dedup_key,
                        payload,
                        attempts,
                        created_at,
                    }
                },
            )
            .collect();
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Marks a message delivered, if `owner` still holds its claim; false if it lost it
    /// (another dispatcher took it over after the lease ran out).
    pub async fn outbox_delivered(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, claimed_until = NULL \
            WHERE id = $1 AND claimed_by = $3 AND delivered_at IS NULL";
        Ok(self
            .execute(SQL, &[id.into(), now.into(), owner.into()])
            .await?
            > 0)
    }

    /// Marks a message delivered whoever holds its claim now: for a delivery whose mark the
    /// store refused at the time (it was sent; sending it again would page twice).
    pub async fn outbox_mark_delivered(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, claimed_until = NULL \
            WHERE id = $1 AND delivered_at IS NULL";
        self.execute(SQL, &[id.into(), at.into()]).await?;
        Ok(())
    }

    /// Schedules another attempt at `at`, if `owner` still holds the claim.
    pub async fn outbox_retry(
        &self,
        id: i64,
        owner: &str,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE outbox SET next_attempt_at = $2, last_error = $3, attempts = attempts + 1, claimed_until = NULL \
            WHERE id = $1 AND claimed_by = $4 AND delivered_at IS NULL";
        let args = [id.into(), at.into(), error.into(), owner.into()];
        Ok(self.execute(SQL, &args).await? > 0)
    }

    /// Gives a message up, if `owner` still holds the claim.
    pub async fn outbox_give_up(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE outbox SET gave_up_at = $2, last_error = $3, attempts = attempts + 1, claimed_until = NULL \
            WHERE id = $1 AND claimed_by = $4 AND delivered_at IS NULL";
        let args = [id.into(), now.into(), error.into(), owner.into()];
        Ok(self.execute(SQL, &args).await? > 0)
    }

    /// Gives a claim back unused (a delivery cancelled at the drain's deadline), so the next
    /// drain, here or on another replica, takes the message at once.
    pub async fn outbox_release(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE outbox SET claimed_until = NULL WHERE id = $1 AND claimed_by = $2 AND delivered_at IS NULL";
        self.execute(SQL, &[id.into(), owner.into()]).await?;
        Ok(())
    }

    /// Owners holding live claims whose name starts with `prefix` (this host's dispatchers).
    pub async fn outbox_claimants(
        &self,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by LIKE $1 \
            AND claimed_until > $2 AND delivered_at IS NULL AND gave_up_at IS NULL";
        let like = format!("{}%", prefix.replace('%', "\\%").replace('_', "\\_"));
        let rows: Vec<(String,)> = self.all(SQL, &[like.as_str().into(), now.into()]).await?;
        Ok(rows.into_iter().map(|(o,)| o).collect())
    }

    /// Releases every claim of `owner` (a dispatcher that is gone).
    pub async fn outbox_release_owner(&self, owner: &str) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE outbox SET claimed_until = NULL WHERE claimed_by = $1 \
            AND claimed_until IS NOT NULL AND delivered_at IS NULL AND gave_up_at IS NULL";
        self.execute(SQL, &[owner.into()]).await
    }

    pub async fn outbox_backlog(&self) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        let count_sql = format!("SELECT COUNT(*) FROM outbox WHERE {PENDING}");
        let oldest_sql =
            format!("SELECT created_at FROM outbox WHERE {PENDING} ORDER BY id LIMIT 1");
        let (n,) = self.one::<(i64,)>(&count_sql, &[]).await?;
        let oldest = self.optional::<(DateTime<Utc>,)>(&oldest_sql, &[]).await?;
        Ok((n, oldest.map(|(t,)| t)))
    }

    /// Every outbox row of a check (tests and inspection), oldest first:
    /// (event, notifier, dedup key, delivered, gave up).
    pub async fn outbox_rows(
        &self,
        check: &str,
    ) -> Result<Vec<(String, String, String, bool, bool)>, StoreError> {
        const SQL: &str = "SELECT event, notifier, dedup_key, delivered_at IS NOT NULL, gave_up_at IS NOT NULL FROM outbox WHERE check_name = $1 ORDER BY id";
        self.all(SQL, &[check.into()]).await
    }
}

/// A message to deliver, as the outbox keeps it until the dispatcher has delivered it.
pub struct NewJob<'a> {
    pub notifier: &'a str,
    pub event: &'a str,
    pub dedup_key: &'a str,
    pub payload: String,
}

impl Tx {
    /// Queues a message in the outbox, due at once; it is delivered only if this transaction commits.
    pub async fn enqueue(
        &mut self,
        now: DateTime<Utc>,
        check: &str,
        job: &NewJob<'_>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO outbox (created_at, check_name, notifier, event, dedup_key, payload, next_attempt_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $1)";
        let args = [
            now.into(),
            check.into(),
            job.notifier.into(),
            job.event.into(),
            job.dedup_key.into(),
            job.payload.as_str().into(),
        ];
        self.conn().execute(SQL, &args).await?;
        Ok(())
    }
}
