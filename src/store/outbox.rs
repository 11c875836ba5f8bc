//! The durable outbox: messages written with the state change, claimed by a dispatcher with a
//! lease (so two dispatchers never send the same row at once), and marked delivered, retried
//! or given up.

use super::{with_pool, Store, StoreError};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// One pending message.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub check: String,
    pub notifier: String,
    pub event: String,
    pub dedup_key: String,
    pub payload: serde_json::Value,
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
        let mut items = with_pool!(self, p => {
            sqlx::query(&sql)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    Ok(OutboxItem {
                        id: r.try_get(0)?,
                        check: r.try_get(1)?,
                        notifier: r.try_get(2)?,
                        event: r.try_get(3)?,
                        dedup_key: r.try_get(4)?,
                        payload: serde_json::from_str(&r.try_get::<String, _>(5)?).unwrap_or_default(),
                        attempts: r.try_get(6)?,
                        created_at: r.try_get(7)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    pub async fn outbox_delivered(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, claimed_until = NULL WHERE id = $1";
        with_pool!(self, p => {
            sqlx::query(SQL).bind(id).bind(now).execute(p).await?;
        });
        Ok(())
    }

    pub async fn outbox_retry(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET next_attempt_at = $2, last_error = $3, attempts = attempts + 1, claimed_until = NULL WHERE id = $1";
        with_pool!(self, p => {
            sqlx::query(SQL).bind(id).bind(at).bind(error).execute(p).await?;
        });
        Ok(())
    }

    pub async fn outbox_give_up(
        &self,
        id: i64,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET gave_up_at = $2, last_error = $3, attempts = attempts + 1, claimed_until = NULL WHERE id = $1";
        with_pool!(self, p => {
            sqlx::query(SQL).bind(id).bind(now).bind(error).execute(p).await?;
        });
        Ok(())
    }

    /// Messages not yet delivered nor given up, and the oldest one's creation time.
    pub async fn outbox_backlog(&self) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        let count_sql = format!("SELECT COUNT(*) FROM outbox WHERE {PENDING}");
        let oldest_sql =
            format!("SELECT created_at FROM outbox WHERE {PENDING} ORDER BY id LIMIT 1");
        Ok(with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar(&count_sql).fetch_one(p).await?;
            let oldest: Option<DateTime<Utc>> = sqlx::query_scalar(&oldest_sql).fetch_optional(p).await?;
            (n, oldest)
        }))
    }

    /// Every outbox row of a check (tests and inspection), oldest first:
    /// (event, notifier, dedup key, delivered, gave up).
    pub async fn outbox_rows(
        &self,
        check: &str,
    ) -> Result<Vec<(String, String, String, bool, bool)>, StoreError> {
        const SQL: &str = "SELECT event, notifier, dedup_key, delivered_at IS NOT NULL, gave_up_at IS NOT NULL FROM outbox WHERE check_name = $1 ORDER BY id";
        Ok(with_pool!(self, p => sqlx::query_as(SQL).bind(check).fetch_all(p).await?))
    }
}
