//! Applies the versioned SQL files in `migrations/<engine>/`, embedded in the binary, once each.
//! Concurrent starters are serialised by the database (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock).

use sqlx::{Executor, PgPool, SqlitePool};

/// (version, name, SQLite text, PostgreSQL text). Append only; never edit a released migration.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "runs_and_state",
        include_str!("../../migrations/sqlite/0001_runs_and_state.sql"),
        include_str!("../../migrations/postgres/0001_runs_and_state.sql"),
    ),
    (
        2,
        "respond",
        include_str!("../../migrations/sqlite/0002_respond.sql"),
        include_str!("../../migrations/postgres/0002_respond.sql"),
    ),
    (
        3,
        "run_claims",
        include_str!("../../migrations/sqlite/0003_run_claims.sql"),
        include_str!("../../migrations/postgres/0003_run_claims.sql"),
    ),
    (
        4,
        "incidents",
        include_str!("../../migrations/sqlite/0004_incidents.sql"),
        include_str!("../../migrations/postgres/0004_incidents.sql"),
    ),
    (
        5,
        "outbox_claims",
        include_str!("../../migrations/sqlite/0005_outbox_claims.sql"),
        include_str!("../../migrations/postgres/0005_outbox_claims.sql"),
    ),
    (
        6,
        "response_streaks",
        include_str!("../../migrations/sqlite/0006_response_streaks.sql"),
        include_str!("../../migrations/postgres/0006_response_streaks.sql"),
    ),
    (
        7,
        "inbound",
        include_str!("../../migrations/sqlite/0007_inbound.sql"),
        include_str!("../../migrations/postgres/0007_inbound.sql"),
    ),
    (
        8,
        "followthrough",
        include_str!("../../migrations/sqlite/0008_followthrough.sql"),
        include_str!("../../migrations/postgres/0008_followthrough.sql"),
    ),
];

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS syncwatch_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)";

pub async fn sqlite(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    conn.execute(LEDGER).await?;
    for (version, name, sql, _) in MIGRATIONS {
        conn.execute("BEGIN IMMEDIATE").await?;
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM syncwatch_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await?;
        let applied = async {
            if done.is_none() {
                conn.execute(*sql).await?;
                sqlx::query("INSERT INTO syncwatch_migrations (version, name) VALUES ($1, $2)")
                    .bind(version)
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        conn.execute(if applied.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })
        .await?;
        applied?;
    }
    Ok(())
}

pub async fn postgres(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One lock for all syncwatch processes sharing this database.
    tx.execute("SELECT pg_advisory_xact_lock(7418620533)")
        .await?;
    tx.execute(LEDGER).await?;
    for (version, name, _, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM syncwatch_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_none() {
            tx.execute(*sql).await?;
            sqlx::query("INSERT INTO syncwatch_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}
