//! Retros followed through: the due date a resolved incident gets, the one reminder a day,
//! marking a retro done, and the action items it assigns.

use super::incidents::{ActionItem, Incident, COLUMNS};
use super::sql::Tx;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};

type ActionRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn action((id, incident, text, owner, due, created_at, done_at): ActionRow) -> ActionItem {
    ActionItem {
        id,
        incident,
        text,
        owner,
        due,
        created_at,
        done_at,
    }
}

impl Tx {
    /// Sets the retro's due date (`YYYY-MM-DD`) of incident `id`, unless it has one.
    pub async fn schedule_retro(&mut self, id: i64, due: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE incidents SET retro_due = $2 WHERE id = $1 AND retro_due IS NULL";
        Ok(self.conn().execute(SQL, &[id.into(), due.into()]).await? > 0)
    }

    /// Marks today's reminder of incident `id` as sent; false if it was already (by another
    /// replica or an earlier tick).
    pub async fn claim_retro_reminder(&mut self, id: i64, today: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE incidents SET retro_reminded_on = $2 WHERE id = $1 \
            AND retro_done_at IS NULL AND (retro_reminded_on IS NULL OR retro_reminded_on < $2)";
        Ok(self.conn().execute(SQL, &[id.into(), today.into()]).await? > 0)
    }
}

impl Store {
    /// Retros due on or before `today` and not done, not yet reminded about today.
    pub async fn retros_to_remind(&self, today: &str) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE retro_due IS NOT NULL AND retro_due <= $1 \
             AND retro_done_at IS NULL AND (retro_reminded_on IS NULL OR retro_reminded_on < $1) \
             ORDER BY id LIMIT 100"
        );
        self.all(&sql, &[today.into()]).await
    }

    /// Marks incident `id`'s retro done (with where it is written); false if there is no such
    /// incident.
    pub async fn retro_done(
        &self,
        id: i64,
        at: DateTime<Utc>,
        doc: Option<&str>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE incidents SET retro_done_at = COALESCE(retro_done_at, $2), \
            retro_doc = COALESCE($3, retro_doc) WHERE id = $1";
        Ok(self
            .execute(SQL, &[id.into(), at.into(), doc.into()])
            .await?
            > 0)
    }

    pub async fn add_action(
        &self,
        incident: i64,
        text: &str,
        owner: &str,
        due: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO action_items (incident_id, text, owner, due, created_at) \
            VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let args = [
            incident.into(),
            text.into(),
            owner.into(),
            due.into(),
            now.into(),
        ];
        Ok(self.one::<(i64,)>(SQL, &args).await?.0)
    }

    /// Action items, oldest first: the open ones, or all (of one incident, if given).
    pub async fn actions(
        &self,
        open_only: bool,
        incident: Option<i64>,
    ) -> Result<Vec<ActionItem>, StoreError> {
        let mut sql = "SELECT id, incident_id, text, owner, due, created_at, done_at FROM action_items WHERE 1 = 1".to_string();
        if open_only {
            sql.push_str(" AND done_at IS NULL");
        }
        let rows: Vec<ActionRow> = match incident {
            Some(i) => {
                sql.push_str(" AND incident_id = $1 ORDER BY id");
                self.all(&sql, &[i.into()]).await?
            }
            None => {
                sql.push_str(" ORDER BY id");
                self.all(&sql, &[]).await?
            }
        };
        Ok(rows.into_iter().map(action).collect())
    }

    /// Marks action item `id` done; false if there is none open with that id.
    pub async fn action_done(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE action_items SET done_at = $2 WHERE id = $1 AND done_at IS NULL";
        Ok(self.execute(SQL, &[id.into(), at.into()]).await? > 0)
    }

    /// (retros overdue on `today`, open action items), for the metrics.
    pub async fn followthrough_counts(&self, today: &str) -> Result<(i64, i64), StoreError> {
        const SQL: &str = "SELECT \
            (SELECT COUNT(*) FROM incidents WHERE retro_due IS NOT NULL AND retro_due < $1 AND retro_done_at IS NULL), \
            (SELECT COUNT(*) FROM action_items WHERE done_at IS NULL)";
        self.one(SQL, &[today.into()]).await
    }
}
