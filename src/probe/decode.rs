//! Database rows → `Raw` values, per driver: just enough decoding for `value` to interpret.
//! Pure: no I/O.

use super::value::Raw;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, TypeInfo, ValueRef};

pub(super) fn pg_raw(row: &PgRow, i: usize) -> Raw {
    let ty = match row.try_get_raw(i) {
        Ok(v) if v.is_null() => return Raw::Null,
        Ok(v) => v.type_info().name().to_string(),
        Err(e) => return Raw::Other(e.to_string()),
    };
    if let Some(inf) = pg_infinity(row, i, &ty) {
        return inf;
    }
    let got = match ty.as_str() {
        "TIMESTAMPTZ" => row.try_get::<DateTime<Utc>, _>(i).map(Raw::Utc),
        "TIMESTAMP" => row.try_get::<NaiveDateTime, _>(i).map(Raw::Naive),
        "DATE" => row.try_get::<NaiveDate, _>(i).map(Raw::Date),
        "INT2" => row.try_get::<i16, _>(i).map(|v| Raw::Int(v.into())),
        "INT4" => row.try_get::<i32, _>(i).map(|v| Raw::Int(v.into())),
        "INT8" => row.try_get::<i64, _>(i).map(Raw::Int),
        "FLOAT4" => row.try_get::<f32, _>(i).map(|v| Raw::Float(v.into())),
        "FLOAT8" => row.try_get::<f64, _>(i).map(Raw::Float),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => row.try_get::<String, _>(i).map(Raw::Text),
        _ => return Raw::Other(ty),
    };
    got.unwrap_or_else(|e| Raw::Other(format!("{ty} ({e})")))
}

/// PostgreSQL's `'infinity'` and `'-infinity'` timestamps and dates, which chrono cannot hold:
/// as text (simple protocol) or as the extreme integers of the binary format.
fn pg_infinity(row: &PgRow, i: usize, ty: &str) -> Option<Raw> {
    if !matches!(ty, "TIMESTAMPTZ" | "TIMESTAMP" | "DATE") {
        return None;
    }
    let v = row.try_get_raw(i).ok()?;
    let positive = match v.format() {
        PgValueFormat::Text => match v.as_str().ok()? {
            "infinity" => true,
            "-infinity" => false,
            _ => return None,
        },
        PgValueFormat::Binary => match v.as_bytes().ok()? {
            b if b.len() == 8 => match i64::from_be_bytes(b.try_into().ok()?) {
                i64::MAX => true,
                i64::MIN => false,
                _ => return None,
            },
            b if b.len() == 4 => match i32::from_be_bytes(b.try_into().ok()?) {
                i32::MAX => true,
                i32::MIN => false,
                _ => return None,
            },
            _ => return None,
        },
    };
    Some(Raw::Infinity(positive))
}

pub(super) fn my_raw(row: &MySqlRow, i: usize) -> Raw {
    let ty = match row.try_get_raw(i) {
        Ok(v) if v.is_null() => return Raw::Null,
        Ok(v) => v.type_info().name().to_string(),
        Err(e) => return Raw::Other(e.to_string()),
    };
    let got = match ty.as_str() {
        "TIMESTAMP" => row.try_get::<DateTime<Utc>, _>(i).map(Raw::Utc),
        "DATETIME" => row.try_get::<NaiveDateTime, _>(i).map(Raw::Naive),
        "DATE" => row.try_get::<NaiveDate, _>(i).map(Raw::Date),
        t if t.ends_with("UNSIGNED") => row.try_get::<u64, _>(i).map(|v| Raw::Int(v as i64)),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "BOOLEAN" => {
            row.try_get::<i64, _>(i).map(Raw::Int)
        }
        "FLOAT" => row.try_get::<f32, _>(i).map(|v| Raw::Float(v.into())),
        "DOUBLE" => row.try_get::<f64, _>(i).map(Raw::Float),
        // DECIMAL travels as text in MySQL's protocol.
        "DECIMAL" | "VARCHAR" | "CHAR" | "TEXT" => {
            row.try_get_unchecked::<String, _>(i).map(Raw::Text)
        }
        _ => return Raw::Other(ty),
    };
    got.unwrap_or_else(|e| Raw::Other(format!("{ty} ({e})")))
}

pub(super) fn lite_raw(row: &SqliteRow, i: usize) -> Raw {
    let ty = match row.try_get_raw(i) {
        Ok(v) if v.is_null() => return Raw::Null,
        Ok(v) => v.type_info().name().to_string(),
        Err(e) => return Raw::Other(e.to_string()),
    };
    let got = match ty.as_str() {
        "INTEGER" | "INT" | "BIGINT" | "BOOLEAN" => {
            row.try_get_unchecked::<i64, _>(i).map(Raw::Int)
        }
        "REAL" | "FLOAT" | "DOUBLE" | "NUMERIC" => {
            row.try_get_unchecked::<f64, _>(i).map(Raw::Float)
        }
        _ => row.try_get_unchecked::<String, _>(i).map(Raw::Text),
    };
    got.unwrap_or_else(|e| Raw::Other(format!("{ty} ({e})")))
}
