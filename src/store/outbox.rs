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

impl Store {
    /// Claims up to `limit` due messages until `lease_until`, oldest first.
    pub async fn outbox_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        // The claim condition is repeated outside the subquery so that PostgreSQL re-checks it
        // on a row another dispatcher claimed meanwhile.
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1 WHERE id IN (SELECT id FROM outbox WHERE {PENDING} \
             AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT $3) \
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
        let rows: Vec<Row> = self
            .all(&sql, &[lease_until.into(), now.into(), limit.into()])
            .await?;
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

    pub async fn outbox_delivered(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, claimed_until = NULL WHERE id = $1";
        self.execute(SQL, &[id.into(), now.into()]).await?;
        Ok(())
    }

    pub async fn outbox_retry(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET next_attempt_at = $2, last_error = $3, attempts = attempts + 1, claimed_until = NULL WHERE id = $1";
        self.execute(SQL, &[id.into(), at.into(), error.into()])
            .await?;
        Ok(())
    }

    pub async fn outbox_give_up(
        &self,
        id: i64,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET gave_up_at = $2, last_error = $3, attempts = attempts + 1, claimed_until = NULL WHERE id = $1";
        self.execute(SQL, &[id.into(), now.into(), error.into()])
            .await?;
        Ok(())
    }

    /// Messages not yet delivered nor given up, and the oldest one's creation time.
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
