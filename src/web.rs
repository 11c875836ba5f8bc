//! The daemon's HTTP surface: `/` (the status page), `/metrics`, `/healthz`, `/readyz`,
//! `/api/checks` and `/api/incidents`, and `/hooks/…` (PagerDuty and Slack, signed). Changes
//! (raise, update, ack, resolve) need the API bearer token; reads need it too when
//! `api.protect_reads` is set.

pub mod access;
pub mod hooks;

use crate::daemon::Daemon;
use crate::verdict::Verdict;
use axum::extract::State;
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub fn router(d: Arc<Daemon>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/api/checks", get(checks))
        .route("/", get(page))
        .route("/api/incidents", get(incidents).post(raise))
        .route("/api/incidents/{id}/updates", post(update))
        .route("/hooks/pagerduty", post(hooks::pagerduty))
        .route("/hooks/slack/actions", post(hooks::slack_actions))
        .route("/hooks/slack/commands", post(hooks::slack_commands))
        .route("/api/incidents/{id}", get(incident))
        .route("/api/incidents/{id}/ack", post(ack))
        .route("/api/incidents/{id}/resolve", post(resolve))
        .with_state(d)
}

/// The text format; gzip-compressed when the scraper accepts it (Prometheus does), from the
/// per-check families kept compressed and ready (see `metrics::ready`).
async fn metrics(State(d): State<Arc<Daemon>>, headers: HeaderMap) -> axum::response::Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let coding = parts.next().unwrap_or("").trim();
            // `gzip;q=0` refuses it.
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            coding.eq_ignore_ascii_case("gzip") && !refused
        });
    // Off the async threads: when the ready body is stale (a scrape during a burst of runs),
    // rebuilding it takes ~0.1 s at 10,000 checks. A plain-text body is inflated as it is sent.
    let pieces =
        tokio::task::spawn_blocking(move || -> Box<dyn Iterator<Item = bytes::Bytes> + Send> {
            if gzip {
                Box::new(d.metrics.render_gzip().into_iter())
            } else {
                Box::new(d.metrics.render_pieces())
            }
        })
        .await;
    let Ok(pieces) = pieces else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = axum::body::Body::from_stream(futures_util::stream::iter(
        pieces.map(Ok::<_, std::convert::Infallible>),
    ));
    let mut response =
        ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response();
    if gzip {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
        headers.insert(
            header::VARY,
            header::HeaderValue::from_static("Accept-Encoding"),
        );
    }
    response
}

/// Ready when a configuration is loaded (always, once serving) and the store answers.
async fn ready(State(d): State<Arc<Daemon>>) -> (StatusCode, String) {
    let app = d.current();
    match tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => match crate::store::health::failing() {
            // Readable but refusing writes (a full disk): runs and deliveries cannot be recorded.
            Some((since, e)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not ready: the state store refuses writes since {}: {e}\n",
                    since.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            ),
            None => (
                StatusCode::OK,
                format!("ready: {} checks\n", app.plan.checks.len()),
            ),
        },
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the state store did not answer within 2s\n".into(),
        ),
    }
}

async fn checks(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
) -> Result<axum::response::Response, Refused> {
    read_allowed(&d, &headers)?;
    let app = d.current();
    let now = d.clock.now();
    // This replica's latest results in plan order, a pointer each: the lock is held for the
    // lookups only, and the body is written off the async threads.
    let latest: Vec<Option<Arc<crate::pass::CheckResult>>> = d.with_latest(|mine| {
        app.plan
            .checks
            .iter()
            .map(|c| mine.get(&c.name).cloned())
            .collect()
    });
    let body = tokio::task::spawn_blocking(move || checks_body(&app.plan.checks, &latest, now))
        .await
        .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One check in `/api/checks` (keys in alphabetical order, as the JSON objects had them).
#[derive(serde::Serialize)]
struct CheckRow<'a> {
    consecutive_failures: Option<i64>,
    description: &'a Option<String>,
    expect: Value,
    kind: &'static str,
    labels: &'a std::collections::BTreeMap<String, String>,
    last_duration_seconds: Option<f64>,
    last_run_at: Option<chrono::DateTime<chrono::Utc>>,
    last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    limits: Value,
    name: &'a str,
    next_run: Option<chrono::DateTime<chrono::Utc>>,
    observed: Option<&'a crate::verdict::Observed>,
    reason: Option<&'a str>,
    schedule: &'a str,
    source: &'a Option<String>,
    thresholds: String,
    timezone: String,
    verdict: Option<Verdict>,
}

/// `{"checks": [...]}`, written row by row into one buffer (no JSON tree of every check).
fn checks_body(
    checks: &[crate::check::Check],
    latest: &[Option<Arc<crate::pass::CheckResult>>],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(64 + checks.len() * 700);
    out.extend_from_slice(b"{\"checks\":[");
    for (i, (c, last)) in checks.iter().zip(latest).enumerate() {
        let last = last.as_deref();
        let mut expect = crate::report::expect_json(c, now);
        if let (Some(e), Some(r)) = (c.kind.expect(), last) {
            if let crate::verdict::Observed::Age { newest, .. } = r.outcome.observed {
                expect["lateness_seconds"] = json!(e.lateness(newest, now));
            }
        }
        let state = last.and_then(|r| r.state.as_ref());
        let row = CheckRow {
            consecutive_failures: state.map(|s| s.consecutive_failures),
            description: &c.description,
            expect,
            kind: c.kind.label(),
            labels: &c.labels,
            last_duration_seconds: last.map(|r| r.duration.as_secs_f64()),
            last_run_at: last.map(|r| r.started_at),
            last_success_at: state.and_then(|s| s.last_success_at),
            limits: crate::report::limits(&c.kind),
            name: &c.name,
            next_run: c.schedule.next_after(now),
            observed: last.map(|r| &r.outcome.observed),
            reason: last.and_then(|r| r.outcome.reason.as_deref()),
            schedule: c.schedule.expr(),
            source: &c.source,
            thresholds: c.kind.thresholds(),
            timezone: c.schedule.timezone().to_string(),
            verdict: last.map(|r| r.outcome.verdict),
        };
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &row)?;
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// A refused or failed API call, as JSON.
pub struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> axum::response::Response {
        let mut r = (self.0, Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"syncwatch\""),
            );
        }
        r
    }
}

fn store_error(e: crate::store::StoreError) -> Refused {
    tracing::error!(error = %e, "API: state store error");
    Refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

/// Compares in constant time, so the answer's timing tells nothing about the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(d: &Daemon, headers: &HeaderMap) -> Result<(), Refused> {
    use secrecy::ExposeSecret;
    let app = d.current();
    let Some(token) = &app.plan.settings.api.token else {
        return Err(Refused(
            StatusCode::UNAUTHORIZED,
            "changes need a token: set api.token (e.g. ${SYNCWATCH_API_TOKEN}) in the settings"
                .into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if same(g.as_bytes(), token.expose_secret().as_bytes()) => Ok(()),
        Some(_) => Err(Refused(StatusCode::UNAUTHORIZED, "wrong token".into())),
        None => Err(Refused(
            StatusCode::UNAUTHORIZED,
            "missing token: send Authorization: Bearer <api.token>".into(),
        )),
    }
}

fn read_allowed(d: &Daemon, headers: &HeaderMap) -> Result<(), Refused> {
    if d.current().plan.settings.api.protect_reads {
        authorized(d, headers)
    } else {
        Ok(())
    }
}

async fn page(
    State(d): State<Arc<Daemon>>,
    Query(ask): Query<crate::status_page::Ask>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Refused> {
    read_allowed(&d, &headers)?;
    let app = d.current();
    let now = d.clock.now();
    // Each check's streak (one small row per check, whichever replica ran it) gives its current
    // verdict for the counts and the choice of rows; this replica's own runs fill the gaps.
    let states = app.store.states().await.map_err(store_error)?;
    // This replica's own results, read in place: only the rows shown are copied.
    let (shown, scope, unrouted, mut latest) = d.with_latest(|mine| {
        let current = |c: &crate::check::Check| {
            states
                .get(&c.name)
                .map(|s| s.last_verdict)
                .or_else(|| mine.get(&c.name).map(|r| r.outcome.verdict))
        };
        let (shown, scope) = crate::status_page::choose(&app.plan.checks, &ask, current, |c| {
            states.get(&c.name).map(|s| s.verdict_since)
        });
        let unrouted: Vec<String> = app
            .plan
            .checks
            .iter()
            .filter(|c| matches!(current(c), Some(Verdict::Fail | Verdict::Error)))
            .filter(|c| {
                let route = c.on_failure.as_ref().and_then(|o| o.page.as_ref());
                route
                    .and_then(|r| app.plan.settings.routes.get(r))
                    .is_none_or(Vec::is_empty)
            })
            .map(|c| c.name.clone())
            .collect();
        let latest: std::collections::HashMap<String, crate::store::LastRun> = shown
            .iter()
            .filter_map(|c| {
                let r = mine.get(&c.name)?;
                let run = crate::store::LastRun {
                    started_at: r.started_at,
                    duration: r.duration,
                    outcome: r.outcome.clone(),
                };
                Some((c.name.clone(), run))
            })
            .collect();
        (shown, scope, unrouted, latest)
    });
    // The store is read for the rows shown only (all of them when the page shows everything).
    let names: Vec<&str> = shown.iter().map(|c| c.name.as_str()).collect();
    let only = match scope.view {
        crate::status_page::View::Everything => None,
        _ => Some(names.as_slice()),
    };
    let history = app
        .store
        .recent_runs(20, now - chrono::Duration::days(2), only)
        .await
        .map_err(store_error)?;
    let open = app.store.incidents(true, 100).await.map_err(store_error)?;
    // The store's newest run, whichever replica ran it; else this replica's own.
    let newest: std::collections::HashMap<&str, &crate::store::incidents::PastRun> =
        history.iter().map(|r| (r.check.as_str(), r)).collect(); // oldest first: the last wins
    for c in &shown {
        if let Some(r) = newest.get(c.name.as_str()) {
            latest.insert(c.name.clone(), r.last_run(&c.kind));
        }
    }
    let settings = &app.plan.settings;
    let mut silences = crate::silence::current(&settings.silences, &settings.maintenance, now);
    silences.extend(app.store.silences(now).await.map_err(store_error)?);
    let mut daily: std::collections::HashMap<String, Vec<(String, Verdict)>> = Default::default();
    for (check, day, v) in app
        .store
        .daily_worst(
            now - chrono::Duration::days(crate::status_page::DAYS as i64),
            only,
        )
        .await
        .map_err(store_error)?
    {
        daily.entry(check).or_default().push((day, v));
    }
    let ctx = crate::status_page::Context {
        silences,
        daily,
        zone: app.plan.settings.oncall.as_ref().map(|o| o.timezone),
        states,
        reload_failure: d.reload_failure(),
        unrouted,
        updates: app
            .store
            .incident_updates(&open.iter().map(|i| i.id).collect::<Vec<_>>(), true)
            .await
            .map_err(store_error)?,
    };
    let html = crate::status_page::render(&shown, &scope, &latest, &history, &open, &ctx, now);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    ))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    #[serde(default)]
    all: bool,
}

async fn incidents(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    q: axum::extract::Query<ListQuery>,
) -> Result<Json<Value>, Refused> {
    read_allowed(&d, &headers)?;
    let list = d
        .current()
        .store
        .incidents(!q.all, 200)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "incidents": list })))
}

async fn incident(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Refused> {
    read_allowed(&d, &headers)?;
    let app = d.current();
    let inc = app
        .store
        .incident(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| Refused(StatusCode::NOT_FOUND, format!("no incident #{id}")))?;
    let timeline = app.store.timeline(&inc).await.map_err(store_error)?;
    Ok(Json(
        json!({ "incident": inc, "status": inc.status(), "timeline": timeline }),
    ))
}

#[derive(serde::Deserialize, Default)]
struct ChangeBody {
    by: Option<String>,
    note: Option<String>,
}

fn body(raw: &str) -> Result<ChangeBody, Refused> {
    if raw.trim().is_empty() {
        return Ok(ChangeBody::default());
    }
    serde_json::from_str(raw).map_err(|e| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("body: {e} (send JSON like {{\"by\": \"alice\", \"note\": \"...\"}})"),
        )
    })
}

/// A change's caller must hold the token; its body says who (default "api") and why.
fn change_request(
    d: &Daemon,
    headers: &HeaderMap,
    raw: &str,
) -> Result<(String, Option<String>), Refused> {
    authorized(d, headers)?;
    let b = body(raw)?;
    Ok((b.by.unwrap_or_else(|| "api".into()), b.note))
}

async fn ack(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    raw: String,
) -> Result<Json<Value>, Refused> {
    let (by, _) = change_request(&d, &headers, &raw)?;
    change(&d, id, crate::store::incidents::Change::Ack { by: &by }).await
}

async fn resolve(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    raw: String,
) -> Result<Json<Value>, Refused> {
    let (by, note) = change_request(&d, &headers, &raw)?;
    let Some(note) = note.filter(|n| !n.trim().is_empty()) else {
        return Err(Refused(
            StatusCode::BAD_REQUEST,
            "a resolve needs a note: {\"note\": \"what was done\"}".into(),
        ));
    };
    change(
        &d,
        id,
        crate::store::incidents::Change::Resolve {
            by: &by,
            note: &note,
        },
    )
    .await
}

async fn change(
    d: &Daemon,
    id: i64,
    change: crate::store::incidents::Change<'_>,
) -> Result<Json<Value>, Refused> {
    use crate::store::incidents::Changed;
    let app = d.current();
    let now = d.clock.now();
    match crate::respond::change::change_incident(&app.store, id, change, &app.plan.settings, now)
        .await
        .map_err(store_error)?
    {
        Changed::NotFound => Err(Refused(StatusCode::NOT_FOUND, format!("no incident #{id}"))),
        Changed::Already(inc) => Ok(Json(
            json!({ "changed": false, "status": inc.status(), "incident": inc }),
        )),
        Changed::Done(inc) => {
            d.wake_dispatcher();
            tracing::info!(incident = id, check = %inc.check, change = ?change, "incident changed over the API");
            Ok(Json(
                json!({ "changed": true, "status": inc.status(), "incident": inc }),
            ))
        }
    }
}

/// `POST /api/incidents`: a user raises an incident.
async fn raise(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    raw: String,
) -> Result<(StatusCode, Json<Value>), Refused> {
    authorized(&d, &headers)?;
    let req: crate::incidents::RaiseRequest = serde_json::from_str(&raw).map_err(|e| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("body: {e} (send JSON like {{\"title\": \"VAN contacts look wrong\", \"check\": \"van_contacts_sync\", \"by\": \"alice\"}})"),
        )
    })?;
    let app = d.current();
    let by = req.by.clone().unwrap_or_else(|| "api".into());
    let plan = crate::incidents::raise_plan(&app.plan, &req, &by)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, e))?;
    let (inc, paged) =
        crate::respond::change::raise(&app.store, &plan, &app.plan.settings, d.clock.now())
            .await
            .map_err(store_error)?;
    d.wake_dispatcher();
    tracing::info!(incident = inc.id, by = %by, "incident raised over the API");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "incident": inc, "status": inc.status(), "paged": paged })),
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: String,
    message: String,
    #[serde(default)]
    public: bool,
    by: Option<String>,
}

/// `POST /api/incidents/{id}/updates`: the Prog Lead posts an update.
async fn update(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    raw: String,
) -> Result<Json<Value>, Refused> {
    use crate::store::incidents::Changed;
    authorized(&d, &headers)?;
    let b: UpdateBody = serde_json::from_str(&raw).map_err(|e| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("body: {e} (send JSON like {{\"status\": \"identified\", \"message\": \"...\", \"public\": true}})"),
        )
    })?;
    let app = d.current();
    let now = d.clock.now();
    let u = crate::incidents::new_update(id, &b.status, &b.message, b.public, b.by, now)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, e))?;
    let inc = app
        .store
        .incident(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| Refused(StatusCode::NOT_FOUND, format!("no incident #{id}")))?;
    let route = crate::incidents::update_route(&app.plan, &inc);
    match crate::respond::change::post_update(&app.store, id, &u, &route, &app.plan.settings, now)
        .await
        .map_err(store_error)?
    {
        Changed::NotFound => Err(Refused(StatusCode::NOT_FOUND, format!("no incident #{id}"))),
        Changed::Already(inc) => Err(Refused(
            StatusCode::CONFLICT,
            format!("incident #{} is resolved already", inc.id),
        )),
        Changed::Done(inc) => {
            d.wake_dispatcher();
            let inc = app
                .store
                .incident(id)
                .await
                .map_err(store_error)?
                .unwrap_or(inc);
            Ok(Json(
                json!({ "changed": true, "status": inc.status(), "incident": inc, "update": u }),
            ))
        }
    }
}
