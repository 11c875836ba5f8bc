//! `syncwatch doctor`: what each partner database says about the session syncwatch gets there,
//! and whether its role could write. Reads only; uses the source's own pool and settings.

use super::pool::{Pool, SourcePool};
use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{MySql, Postgres, Row};
use std::time::{Duration, Instant};

/// One source's examination.
#[derive(Debug, Clone, Serialize)]
pub struct Examination {
    pub source: String,
    pub engine: &'static str,
    /// Host, port and database (no credentials).
    pub server: String,
    pub reachable: bool,
    /// Why it is not reachable, or what could not be read.
    pub error: Option<String>,
    pub version: Option<String>,
    /// One `SELECT 1` round trip on a connected session.
    pub latency_ms: Option<f64>,
    pub time_zone: Option<String>,
    pub statement_timeout: Option<String>,
    /// `Some(true)`: the role could write (see `write_access`); `None`: not known.
    pub could_write: Option<bool>,
    /// What would let it write, or how it is kept read-only.
    pub write_access: Vec<String>,
}

impl SourcePool {
    pub async fn examine(&self) -> Examination {
        let mut ex = Examination {
            source: self.spec.name.clone(),
            engine: self.spec.engine.label(),
            server: self.spec.display.clone(),
            reachable: false,
            error: None,
            version: None,
            latency_ms: None,
            time_zone: None,
            statement_timeout: None,
            could_write: None,
            write_access: Vec::new(),
        };
        let limit = self.spec.connect_timeout + self.spec.statement_timeout;
        let read = async {
            match self.pool() {
                Pool::Pg(p) => {
                    let mut c = self.acquire(p).await?;
                    ex.reachable = true;
                    postgres(&mut c, &mut ex).await.map_err(|e| e.to_string())
                }
                Pool::My(p) => {
                    let mut c = self.acquire(p).await?;
                    ex.reachable = true;
                    mysql(&mut c, &mut ex).await.map_err(|e| e.to_string())
                }
                Pool::Lite(p) => {
                    let mut c = self.acquire(p).await?;
                    ex.reachable = true;
                    let start = Instant::now();
                    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
                        .fetch_one(&mut *c)
                        .await
                        .map_err(|e| e.to_string())?;
                    ex.latency_ms = Some(ms(start.elapsed()));
                    ex.version = Some(version);
                    ex.time_zone =
                        Some("none (naive values are read in the source's timezone)".into());
                    ex.statement_timeout = Some(format!(
                        "busy_timeout {}",
                        crate::duration::canonical(self.spec.statement_timeout)
                    ));
                    ex.could_write = Some(false);
                    ex.write_access
                        .push("opened read-only (SQLITE_OPEN_READONLY)".into());
                    Ok(())
                }
            }
        };
        match tokio::time::timeout(limit, read).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => ex.error = Some(super::pool::redact(&e, &self.spec)),
            Err(_) => {
                ex.error = Some(format!(
                    "no answer within {}",
                    crate::duration::canonical(limit)
                ))
            }
        }
        ex
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Tables (not catalogs) the role may change, and schemas it may create objects in.
const PG_WRITES: &str = "SELECT \
    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
      AND n.nspname NOT LIKE 'pg\\_%' AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')), \
    (SELECT coalesce(string_agg(nspname, ', ' ORDER BY nspname), '') FROM pg_namespace \
      WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%' \
      AND has_schema_privilege(oid, 'CREATE'))";

async fn postgres(
    c: &mut PoolConnection<Postgres>,
    ex: &mut Examination,
) -> Result<(), sqlx::Error> {
    let start = Instant::now();
    sqlx::query("SELECT 1").execute(&mut **c).await?;
    ex.latency_ms = Some(ms(start.elapsed()));
    let show = |name: &'static str| sqlx::query_scalar::<_, String>(name);
    ex.version = Some(show("SHOW server_version").fetch_one(&mut **c).await?);
    ex.time_zone = Some(show("SHOW TimeZone").fetch_one(&mut **c).await?);
    ex.statement_timeout = Some(show("SHOW statement_timeout").fetch_one(&mut **c).await?);
    let row = sqlx::query(PG_WRITES).fetch_one(&mut **c).await?;
    let (superuser, tables, schemas): (Option<bool>, i64, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if superuser == Some(true) {
        ex.write_access
            .push("superuser (bypasses every privilege)".into());
    }
    if tables > 0 {
        ex.write_access.push(format!(
            "INSERT, UPDATE, DELETE or TRUNCATE on {tables} table(s)"
        ));
    }
    if !schemas.is_empty() {
        ex.write_access
            .push(format!("CREATE on schema(s) {schemas}"));
    }
    ex.could_write = Some(!ex.write_access.is_empty());
    if ex.write_access.is_empty() {
        ex.write_access
            .push("no write privilege; sessions default to read-only too".into());
    }
    Ok(())
}

/// Privileges that read, or only show the server's state; every other one could change something.
const MY_READ_ONLY: [&str; 8] = [
    "SELECT",
    "USAGE",
    "SHOW VIEW",
    "SHOW DATABASES",
    "PROCESS",
    "REPLICATION CLIENT",
    "BINLOG MONITOR",
    "SLAVE MONITOR",
];

async fn mysql(c: &mut PoolConnection<MySql>, ex: &mut Examination) -> Result<(), sqlx::Error> {
    let start = Instant::now();
    sqlx::query("SELECT 1").execute(&mut **c).await?;
    ex.latency_ms = Some(ms(start.elapsed()));
    let row = sqlx::query(
        "SELECT VERSION(), CAST(@@session.time_zone AS CHAR), CAST(@@system_time_zone AS CHAR)",
    )
    .fetch_one(&mut **c)
    .await?;
    let version: String = row.try_get(0)?;
    let (tz, system): (String, String) = (row.try_get(1)?, row.try_get(2)?);
    ex.time_zone = Some(if tz == "SYSTEM" {
        format!("SYSTEM ({system})")
    } else {
        tz
    });
    let timeout_sql = if version.contains("MariaDB") {
        "SELECT CONCAT(CAST(@@max_statement_time AS CHAR), 's (max_statement_time)')"
    } else {
        "SELECT CONCAT(CAST(@@max_execution_time AS CHAR), 'ms (max_execution_time)')"
    };
    ex.version = Some(version);
    ex.statement_timeout = Some(sqlx::query_scalar(timeout_sql).fetch_one(&mut **c).await?);
    let grants: Vec<String> = sqlx::query_scalar("SHOW GRANTS")
        .fetch_all(&mut **c)
        .await?;
    for grant in &grants {
        ex.write_access.extend(mysql_writes(grant));
    }
    ex.could_write = Some(!ex.write_access.is_empty());
    if ex.write_access.is_empty() {
        ex.write_access.push(
            "SHOW GRANTS lists no write privilege (privileges through roles are not expanded)"
                .into(),
        );
    }
    Ok(())
}

/// The write privileges one `SHOW GRANTS` line gives, as "PRIV on SCOPE".
pub fn mysql_writes(grant: &str) -> Vec<String> {
    let Some(rest) = grant.strip_prefix("GRANT ") else {
        return Vec::new();
    };
    let Some((privs, tail)) = rest.split_once(" ON ") else {
        return Vec::new(); // a role granted to the user
    };
    let scope = tail.split(" TO ").next().unwrap_or(tail).trim();
    split_privileges(privs)
        .into_iter()
        .filter(|p| !MY_READ_ONLY.contains(&p.as_str()) && !p.starts_with("SELECT ("))
        .map(|p| format!("{p} on {scope}"))
        .collect()
}

/// Splits "SELECT, INSERT (a, b), UPDATE" at the commas outside parentheses.
fn split_privileges(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur.trim().to_string());
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::mysql_writes;

    #[test]
    fn grants_that_only_read_are_not_writes() {
        assert!(mysql_writes("GRANT USAGE ON *.* TO `ro`@`%`").is_empty());
        assert!(mysql_writes("GRANT SELECT, SHOW VIEW ON `pad`.* TO `ro`@`%`").is_empty());
        assert!(mysql_writes("GRANT `reader` TO `ro`@`%`").is_empty());
        assert_eq!(
            mysql_writes("GRANT SELECT, INSERT (a, b), UPDATE ON `pad`.`t` TO `rw`@`%`"),
            vec!["INSERT (a, b) on `pad`.`t`", "UPDATE on `pad`.`t`"]
        );
        assert_eq!(
            mysql_writes("GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"),
            vec!["ALL PRIVILEGES on *.*"]
        );
        assert_eq!(
            mysql_writes("GRANT FILE ON *.* TO `x`@`%`"),
            vec!["FILE on *.*"]
        );
    }
}
