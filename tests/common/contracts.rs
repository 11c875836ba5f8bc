//! Local servers that enforce the vendors' documented contracts (shared/CONTRACTS.md):
//! PagerDuty Events v2, Slack incoming webhooks, a generic webhook, and the Kubernetes
//! Deployment API as `kubectl rollout restart` uses it. Each records what it accepted and can
//! be scripted to fail (500, 429 with Retry-After) or to answer slowly.
//!
//! Each also checks how it is called over time: a message sent again after a 429 (or
//! Statuspage's 420) before `Retry-After`, or after a 5xx before syncwatch's documented backoff
//! (2 s doubling), is a contract breach. Breaches are collected, and every accessor a test reads
//! results through (`requests`, `triggers`, `texts`, …) fails the test when there is one.

use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// When the request arrived.
    pub at: Instant,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// What makes a later request a retry of this one: the Idempotency-Key, else PagerDuty's
    /// dedup key and action, else the whole request.
    fn identity(&self) -> String {
        if let Some(k) = self.headers.get("idempotency-key") {
            return format!("key {k}");
        }
        let j = self.json();
        match (j["dedup_key"].as_str(), j["event_action"].as_str()) {
            (Some(k), Some(a)) => format!("pd {k} {a}"),
            _ => format!("{} {} {}", self.method, self.path, self.body),
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

fn reply(status: u16, body: impl Into<String>) -> Response {
    Response {
        status,
        headers: vec![],
        body: body.into(),
    }
}

/// What every contract server shares: requests seen, scripted failures, an optional delay.
#[derive(Default)]
pub struct Script {
    pub seen: Mutex<Vec<Request>>,
    /// Statuses to answer (in order) before behaving normally; 429 comes with Retry-After: 1.
    pub fail_next: Mutex<VecDeque<u16>>,
    pub delay: Mutex<Duration>,
    /// Requests answered, with the status they got.
    pub answered: Mutex<Vec<(Request, u16)>>,
    /// Contract breaches seen (early retries, …).
    pub breaches: Mutex<Vec<String>>,
    /// Per retry identity: not to be sent again before this, why, and failures in a row.
    not_before: Mutex<HashMap<String, (Instant, String, u32)>>,
}

/// Slack between a retry's due time and its arrival that still counts as on time.
const CLOCK_SLACK: Duration = Duration::from_millis(150);

impl Script {
    pub fn fail_with(&self, statuses: &[u16]) {
        self.fail_next.lock().unwrap().extend(statuses);
    }
    /// Every request that arrived (accepted or not). Fails on a contract breach.
    pub fn requests(&self) -> Vec<Request> {
        self.assert_kept();
        self.seen.lock().unwrap().clone()
    }
    /// Requests answered with a 2xx status. Fails on a contract breach.
    pub fn accepted(&self) -> Vec<Request> {
        self.assert_kept();
        self.answered
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| (200..300).contains(s))
            .map(|(r, _)| r.clone())
            .collect()
    }
    /// Fails the test if the caller broke the contract at any time so far.
    pub fn assert_kept(&self) {
        let b = self.breaches.lock().unwrap();
        assert!(b.is_empty(), "contract breached: {b:#?}");
    }

    fn arrived(&self, req: &Request) {
        let id = req.identity();
        if let Some((due, why, _)) = self.not_before.lock().unwrap().get(&id) {
            if req.at + CLOCK_SLACK < *due {
                self.breaches.lock().unwrap().push(format!(
                    "{} {} sent again {:?} too early ({why})",
                    req.method,
                    req.path,
                    *due - req.at
                ));
            }
        }
        self.seen.lock().unwrap().push(req.clone());
    }

    fn answer(&self, req: &Request, resp: &Response) {
        let id = req.identity();
        let now = Instant::now();
        let mut nb = self.not_before.lock().unwrap();
        let fails = nb.get(&id).map_or(0, |e| e.2) + 1;
        match resp.status {
            420 | 429 => {
                let after = resp
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(1);
                let why = format!("answered {} with Retry-After: {after}", resp.status);
                nb.insert(id, (now + Duration::from_secs(after), why, fails));
            }
            500..=599 => {
                let wait = Duration::from_secs(2u64 << (fails - 1).min(8));
                let why = format!(
                    "failure {fails} in a row was a {}: back off {wait:?}",
                    resp.status
                );
                nb.insert(id, (now + wait, why, fails));
            }
            _ => {
                nb.remove(&id);
            }
        }
        drop(nb);
        self.answered
            .lock()
            .unwrap()
            .push((req.clone(), resp.status));
    }
}

async fn serve<F>(script: Arc<Script>, handler: F) -> String
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (script, handler) = (Arc::clone(&script), Arc::clone(&handler));
            tokio::spawn(async move {
                let Some(req) = read_request(&mut sock).await else {
                    return;
                };
                script.arrived(&req);
                let delay = *script.delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                let scripted = script.fail_next.lock().unwrap().pop_front();
                let resp = match scripted {
                    Some(429) => Response {
                        status: 429,
                        headers: vec![("Retry-After".into(), "1".into())],
                        body: "rate limited".into(),
                    },
                    Some(code) => reply(code, "scripted failure"),
                    None => handler(&req),
                };
                script.answer(&req, &resp);
                let mut out = format!(
                    "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    resp.status,
                    resp.body.len()
                );
                for (k, v) in resp.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&resp.body);
                let _ = sock.write_all(out.as_bytes()).await;
            });
        }
    });
    base
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        at: Instant::now(),
    })
}

/// PagerDuty Events API v2.
#[derive(Default)]
pub struct PagerDuty {
    pub script: Arc<Script>,
    /// dedup_key → summary of alerts currently open.
    pub open: Mutex<HashMap<String, String>>,
    /// How many alerts were opened (a trigger on an open key opens nothing).
    pub opened: Mutex<u32>,
    pub resolved: Mutex<u32>,
    pub changes: Mutex<Vec<Value>>,
    /// The integration key events must carry (any other is refused as invalid).
    pub key: String,
}

pub const PD_KEY: &str = "0123456789abcdef0123456789abcdef";

impl PagerDuty {
    pub async fn start() -> (Arc<PagerDuty>, String) {
        Self::start_with_key(PD_KEY).await
    }

    pub async fn start_with_key(key: &str) -> (Arc<PagerDuty>, String) {
        let pd = Arc::new(PagerDuty {
            key: key.to_string(),
            ..PagerDuty::default()
        });
        let me = Arc::clone(&pd);
        let base = serve(Arc::clone(&pd.script), move |r| me.handle(r)).await;
        (pd, base)
    }

    fn handle(&self, r: &Request) -> Response {
        let invalid = |msg: &str| {
            reply(400, json!({"status": "invalid event", "message": "Event object is invalid", "errors": [msg]}).to_string())
        };
        if r.method != "POST" {
            return reply(405, "");
        }
        if !r
            .headers
            .get("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
        {
            return invalid("Content-Type must be application/json");
        }
        let e = r.json();
        if e["routing_key"].as_str().map(str::len) != Some(32) {
            return invalid("'routing_key' must be a 32 character integration key");
        }
        if e["routing_key"] != self.key.as_str() {
            return invalid("'routing_key' is not the key of an integration on this service");
        }
        if r.path == "/v2/change/enqueue" {
            if e["payload"]["summary"].as_str().is_none() {
                return invalid("'payload.summary' is missing");
            }
            self.changes.lock().unwrap().push(e);
            return reply(
                202,
                json!({"status": "success", "message": "Change event processed"}).to_string(),
            );
        }
        if r.path != "/v2/enqueue" {
            return reply(404, "");
        }
        let key = e["dedup_key"].as_str().unwrap_or("").to_string();
        if key.is_empty() || key.len() > 255 {
            return invalid("'dedup_key' must be 1 to 255 characters");
        }
        match e["event_action"].as_str() {
            Some("trigger") => {
                let p = &e["payload"];
                let summary = p["summary"].as_str().unwrap_or("");
                if summary.is_empty() || summary.chars().count() > 1024 {
                    return invalid("'payload.summary' must be 1 to 1024 characters");
                }
                if p["source"].as_str().is_none() {
                    return invalid("'payload.source' is missing");
                }
                if !matches!(
                    p["severity"].as_str(),
                    Some("critical" | "error" | "warning" | "info")
                ) {
                    return invalid("'payload.severity' must be critical, error, warning or info");
                }
                if !p["custom_details"].is_object() && !p["custom_details"].is_null() {
                    return invalid("'payload.custom_details' must be an object");
                }
                let mut open = self.open.lock().unwrap();
                if !open.contains_key(&key) {
                    *self.opened.lock().unwrap() += 1;
                }
                open.insert(key.clone(), summary.to_string());
            }
            Some("resolve") => {
                if self.open.lock().unwrap().remove(&key).is_some() {
                    *self.resolved.lock().unwrap() += 1;
                }
            }
            Some("acknowledge") => {}
            _ => return invalid("'event_action' must be trigger, acknowledge or resolve"),
        }
        reply(
            202,
            json!({"status": "success", "message": "Event processed", "dedup_key": key})
                .to_string(),
        )
    }

    /// Trigger events answered 202 (redeliveries included).
    pub fn triggers(&self) -> Vec<Value> {
        self.events("trigger")
    }

    /// Events of one action answered 202, in order of arrival.
    pub fn events(&self, action: &str) -> Vec<Value> {
        self.script
            .accepted()
            .iter()
            .filter(|r| r.path == "/v2/enqueue")
            .map(Request::json)
            .filter(|e| e["event_action"] == action)
            .collect()
    }
}

/// Slack incoming webhook.
#[derive(Default)]
pub struct Slack {
    pub script: Arc<Script>,
    pub messages: Mutex<Vec<Value>>,
    /// Channels made with conversations.create: name → id.
    pub channels: Mutex<HashMap<String, String>>,
    /// conversations.invite calls: (channel id, users).
    pub invites: Mutex<Vec<(String, String)>>,
    /// Dialogs opened with views.open (the request bodies).
    pub views: Mutex<Vec<Value>>,
    /// Messages to interaction `response_url`s (RESPONSE_PATH…): (path, body).
    pub responses: Mutex<Vec<(String, Value)>>,
}

/// Where this server's interaction `response_url`s live.
pub const RESPONSE_PATH: &str = "/actions/T000/response/";

pub const SLACK_PATH: &str = "/services/T000/B000/XXXX";

impl Slack {
    pub async fn start() -> (Arc<Slack>, String) {
        let s = Arc::new(Slack::default());
        let me = Arc::clone(&s);
        let base = serve(Arc::clone(&s.script), move |r| me.handle(r)).await;
        (s, format!("{base}{SLACK_PATH}"))
    }

    fn handle(&self, r: &Request) -> Response {
        let fail = |e: &str| reply(200, json!({"ok": false, "error": e}).to_string());
        let json_body = r
            .headers
            .get("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        if r.method == "POST" && !json_body {
            // Webhooks answer 400 invalid_payload; the Web API reads a non-JSON body as form
            // fields and finds none of them.
            return if r.path.starts_with("/api/") {
                fail("invalid_arguments")
            } else {
                reply(400, "invalid_payload")
            };
        }
        let bot =
            r.headers.get("authorization").map(String::as_str) == Some("Bearer xoxb-test-token");
        if r.method == "POST" && r.path == "/api/conversations.create" {
            if !bot {
                return fail("invalid_auth");
            }
            let m = r.json();
            let name = m["name"].as_str().unwrap_or("");
            let valid = !name.is_empty()
                && name.chars().count() <= 80
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                return fail("invalid_name_specials");
            }
            let mut channels = self.channels.lock().unwrap();
            if channels.contains_key(name) {
                return fail("name_taken");
            }
            let id = format!("C{:08}", channels.len() + 1);
            channels.insert(name.to_string(), id.clone());
            return reply(
                200,
                json!({"ok": true, "channel": {"id": id, "name": name}}).to_string(),
            );
        }
        if r.method == "POST" && r.path == "/api/conversations.invite" {
            if !bot {
                return fail("invalid_auth");
            }
            let m = r.json();
            let channel = m["channel"].as_str().unwrap_or("").to_string();
            if !self
                .channels
                .lock()
                .unwrap()
                .values()
                .any(|id| *id == channel)
            {
                return fail("channel_not_found");
            }
            let users = m["users"].as_str().unwrap_or("").to_string();
            if users.is_empty() {
                return fail("no_user");
            }
            self.invites.lock().unwrap().push((channel, users));
            return reply(200, json!({"ok": true}).to_string());
        }
        if r.method == "POST" && r.path == "/api/views.open" {
            // A trigger id lives 3 s and opens one view; the view must be a valid modal.
            if !bot {
                return fail("invalid_auth");
            }
            let m = r.json();
            if m["trigger_id"].as_str().is_none_or(str::is_empty) {
                return fail("invalid_trigger_id");
            }
            let v = &m["view"];
            let title_ok = v["title"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty() && t.chars().count() <= 24);
            let meta_ok = v["private_metadata"]
                .as_str()
                .is_none_or(|t| t.len() <= 3000);
            let blocks_ok = v["blocks"]
                .as_array()
                .is_some_and(|b| !b.is_empty() && b.len() <= 100);
            if v["type"] != "modal" || !title_ok || !meta_ok || !blocks_ok {
                return fail("invalid_arguments");
            }
            self.views.lock().unwrap().push(m);
            return reply(
                200,
                json!({"ok": true, "view": {"id": "V000001"}}).to_string(),
            );
        }
        if r.method == "POST" && r.path.starts_with(RESPONSE_PATH) {
            // response_url: ephemeral replies, or the original replaced; text is required.
            let m = r.json();
            if m["text"].as_str().is_none_or(str::is_empty) {
                return reply(400, "no_text");
            }
            if m["replace_original"] != true
                && m["response_type"] != "ephemeral"
                && m["response_type"] != "in_channel"
            {
                return reply(400, "invalid_response_type");
            }
            self.responses.lock().unwrap().push((r.path.clone(), m));
            return reply(200, "ok");
        }
        if r.method == "POST" && r.path == "/api/chat.postMessage" {
            // Web API: errors are 200 with ok=false, so callers must check `ok`.
            if !bot {
                return fail("invalid_auth");
            }
            let m = r.json();
            let known = {
                let channels = self.channels.lock().unwrap();
                let c = m["channel"].as_str().unwrap_or("");
                c == "C0INCIDENTS"
                    || channels.values().any(|id| id == c)
                    || channels.contains_key(c)
            };
            if !known {
                return fail("channel_not_found");
            }
            if m["text"].as_str().is_none_or(str::is_empty) {
                return fail("no_text");
            }
            let channel = m["channel"].clone();
            self.messages.lock().unwrap().push(m);
            return reply(
                200,
                json!({"ok": true, "channel": channel, "ts": "1700000000.000100"}).to_string(),
            );
        }
        if r.method != "POST" || r.path != SLACK_PATH {
            return reply(404, "no_service");
        }
        let m = r.json();
        let text_ok = m["text"].as_str().is_some_and(|t| !t.is_empty());
        let blocks = m["blocks"].as_array().cloned().unwrap_or_default();
        let header_ok = blocks.iter().filter(|b| b["type"] == "header").all(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.chars().count() <= 150)
        });
        let section_ok = blocks.iter().filter(|b| b["type"] == "section").all(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.chars().count() <= 3000)
        });
        if !text_ok || blocks.len() > 50 || !header_ok || !section_ok {
            return reply(400, "invalid_payload");
        }
        self.messages.lock().unwrap().push(m);
        reply(200, "ok")
    }

    /// Texts posted with the Web API to one channel (an id).
    pub fn posted_to(&self, channel: &str) -> Vec<String> {
        self.script.assert_kept();
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == channel)
            .map(|m| m["text"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// What was sent to one response_url (its last path segment), in order.
    pub fn responses_to(&self, id: &str) -> Vec<Value> {
        self.script.assert_kept();
        let path = format!("{RESPONSE_PATH}{id}");
        self.responses
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The whole messages posted (webhook and Web API), in order.
    pub fn messages(&self) -> Vec<Value> {
        self.script.assert_kept();
        self.messages.lock().unwrap().clone()
    }

    pub fn texts(&self) -> Vec<String> {
        self.script.assert_kept();
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// The Kubernetes API for one Deployment, as `kubectl rollout restart` uses it.
pub struct Kube {
    pub script: Arc<Script>,
    pub namespace: String,
    pub deployment: String,
    pub paused: bool,
    pub token: String,
    /// Every distinct restartedAt value patched in: each one rolls the pods.
    pub rollouts: Mutex<Vec<String>>,
    /// Called on each new rollout (a test can make the sync "catch up").
    pub on_rollout: Mutex<Option<Box<dyn Fn() + Send>>>,
    /// PATCHes to apply and then answer 500, as when the answer is lost on the way back.
    pub lose_answers: Mutex<u32>,
}

impl Kube {
    pub async fn start(namespace: &str, deployment: &str, paused: bool) -> (Arc<Kube>, String) {
        let k = Arc::new(Kube {
            script: Arc::default(),
            namespace: namespace.into(),
            deployment: deployment.into(),
            paused,
            token: "kube-test-token".into(),
            rollouts: Mutex::default(),
            on_rollout: Mutex::default(),
            lose_answers: Mutex::default(),
        });
        let me = Arc::clone(&k);
        let base = serve(Arc::clone(&k.script), move |r| me.handle(r)).await;
        (k, base)
    }

    fn handle(&self, r: &Request) -> Response {
        if r.headers.get("authorization") != Some(&format!("Bearer {}", self.token)) {
            return reply(
                401,
                json!({"kind": "Status", "reason": "Unauthorized", "code": 401}).to_string(),
            );
        }
        let path = format!(
            "/apis/apps/v1/namespaces/{}/deployments/{}",
            self.namespace, self.deployment
        );
        if r.path != path {
            return reply(
                404,
                json!({"kind": "Status", "reason": "NotFound", "code": 404}).to_string(),
            );
        }
        match r.method.as_str() {
            "GET" => reply(200, json!({"kind": "Deployment", "metadata": {"name": self.deployment, "namespace": self.namespace}, "spec": {"paused": self.paused, "template": {"metadata": {"annotations": {}}}}}).to_string()),
            "PATCH" => {
                if r.headers.get("content-type").map(String::as_str) != Some("application/strategic-merge-patch+json") {
                    return reply(415, json!({"kind": "Status", "reason": "UnsupportedMediaType", "code": 415}).to_string());
                }
                let at = r.json()["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].as_str().map(str::to_string);
                let Some(at) = at.filter(|a| chrono::DateTime::parse_from_rfc3339(a).is_ok()) else {
                    return reply(422, json!({"kind": "Status", "reason": "Invalid", "code": 422}).to_string());
                };
                let mut rollouts = self.rollouts.lock().unwrap();
                if !rollouts.contains(&at) {
                    rollouts.push(at);
                    if let Some(f) = self.on_rollout.lock().unwrap().as_ref() {
                        f();
                    }
                }
                let mut lose = self.lose_answers.lock().unwrap();
                if *lose > 0 {
                    *lose -= 1;
                    return reply(500, json!({"kind": "Status", "reason": "InternalError", "code": 500}).to_string());
                }
                reply(200, json!({"kind": "Deployment"}).to_string())
            }
            _ => reply(405, ""),
        }
    }
}

/// A receiver of syncwatch's generic webhook (README, Notifiers), which is also where restart
/// webhooks are sent. Every request needs an `Idempotency-Key`, and a key used again must
/// come with the same body (a receiver that honours the key would drop a different message
/// sent under it). A body with an `event` member is a notifier message and needs each
/// documented field: `event` (page, reminder, resolve, notify, ack, escalate, handoff, update),
/// `summary`, `dedup_key`, `details` (object), `links` (array) and `at` (RFC 3339).
pub async fn webhook() -> (Arc<Script>, String) {
    let script = Arc::new(Script::default());
    let bodies: Mutex<HashMap<String, String>> = Mutex::default();
    let base = serve(Arc::clone(&script), move |r| {
        let m = r.json();
        if m.is_null() {
            return reply(400, "not JSON");
        }
        let Some(key) = r.headers.get("idempotency-key").filter(|k| !k.is_empty()) else {
            return reply(400, "Idempotency-Key header is missing");
        };
        let mut bodies = bodies.lock().unwrap();
        if bodies.get(key).is_some_and(|b| *b != r.body) {
            return reply(
                422,
                format!("Idempotency-Key {key} was used for another message"),
            );
        }
        if m.get("event").is_some() {
            const EVENTS: [&str; 9] = [
                "page", "reminder", "resolve", "notify", "ack", "escalate", "handoff", "update",
                "retro",
            ];
            let problems: Vec<&str> = [
                (
                    m["event"].as_str().is_some_and(|e| EVENTS.contains(&e)),
                    "event",
                ),
                (
                    m["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "summary",
                ),
                (
                    m["dedup_key"].as_str().is_some_and(|s| !s.is_empty()),
                    "dedup_key",
                ),
                (m["details"].is_object(), "details"),
                (m["links"].is_array(), "links"),
                (
                    m["at"]
                        .as_str()
                        .is_some_and(|a| chrono::DateTime::parse_from_rfc3339(a).is_ok()),
                    "at",
                ),
            ]
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, field)| field)
            .collect();
            if !problems.is_empty() {
                return reply(422, format!("missing or invalid: {}", problems.join(", ")));
            }
        }
        bodies.insert(key.clone(), r.body.clone());
        reply(200, "{}")
    })
    .await;
    (script, base)
}

/// Atlassian Statuspage v1 for one page: components and incidents, OAuth header, and its
/// 1 request/s limit (a faster request is throttled with 420).
pub struct Statuspage {
    pub script: Arc<Script>,
    pub components: Mutex<HashMap<String, String>>,
    /// id → incident JSON.
    pub incidents: Mutex<Vec<Value>>,
    /// Incident updates subscribers received: (incident id, status, body), in order.
    pub updates: Mutex<Vec<(String, String, String)>>,
    pub throttled: Mutex<u32>,
    last: Mutex<Option<std::time::Instant>>,
}

pub const SP_KEY: &str = "sp-test-key";
pub const SP_PAGE: &str = "pg123";

impl Statuspage {
    pub async fn start(components: &[&str]) -> (Arc<Statuspage>, String) {
        let sp = Arc::new(Statuspage {
            script: Arc::default(),
            components: Mutex::new(
                components
                    .iter()
                    .map(|c| (c.to_string(), "operational".to_string()))
                    .collect(),
            ),
            incidents: Mutex::default(),
            updates: Mutex::default(),
            throttled: Mutex::default(),
            last: Mutex::default(),
        });
        let me = Arc::clone(&sp);
        let base = serve(Arc::clone(&sp.script), move |r| me.handle(r)).await;
        (sp, format!("{base}/v1"))
    }

    fn handle(&self, r: &Request) -> Response {
        {
            let mut last = self.last.lock().unwrap();
            let now = std::time::Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < Duration::from_millis(1000)) {
                *self.throttled.lock().unwrap() += 1;
                return reply(420, "Enhance your calm");
            }
            *last = Some(now);
        }
        if r.headers.get("authorization").map(String::as_str) != Some(&format!("OAuth {SP_KEY}")) {
            return reply(401, json!({"error": "Could not authenticate"}).to_string());
        }
        let page = format!("/v1/pages/{SP_PAGE}");
        let Some(rest) = r.path.strip_prefix(&page) else {
            return reply(404, "{}");
        };
        const STATUSES: [&str; 5] = [
            "operational",
            "degraded_performance",
            "partial_outage",
            "major_outage",
            "under_maintenance",
        ];
        let b = r.json();
        match (r.method.as_str(), rest) {
            ("PATCH", p) if p.starts_with("/components/") => {
                let id = &p["/components/".len()..];
                let status = b["component"]["status"].as_str().unwrap_or("");
                if !STATUSES.contains(&status) {
                    return reply(422, json!({"error": "invalid status"}).to_string());
                }
                let mut c = self.components.lock().unwrap();
                let Some(slot) = c.get_mut(id) else {
                    return reply(404, json!({"error": "component not found"}).to_string());
                };
                *slot = status.to_string();
                reply(200, json!({"id": id, "status": status}).to_string())
            }
            ("POST", "/incidents") => {
                let inc = &b["incident"];
                if inc["name"].as_str().is_none_or(str::is_empty) {
                    return reply(422, json!({"error": "name can't be blank"}).to_string());
                }
                if let Some(problem) = self.incident_problem(inc, true) {
                    return reply(422, json!({ "error": problem }).to_string());
                }
                let mut all = self.incidents.lock().unwrap();
                let mut stored = inc.clone();
                stored["id"] = json!(format!("inc{}", all.len() + 1));
                self.updates.lock().unwrap().push((
                    format!("inc{}", all.len() + 1),
                    inc["status"].as_str().unwrap_or_default().to_string(),
                    inc["body"].as_str().unwrap_or_default().to_string(),
                ));
                all.push(stored.clone());
                Response {
                    status: 201,
                    headers: vec![],
                    body: stored.to_string(),
                }
            }
            ("GET", "/incidents/unresolved") => {
                let all = self.incidents.lock().unwrap();
                let open: Vec<&Value> = all.iter().filter(|i| i["status"] != "resolved").collect();
                reply(200, json!(open).to_string())
            }
            ("PATCH", p) if p.starts_with("/incidents/") => {
                let id = &p["/incidents/".len()..];
                if let Some(problem) = self.incident_problem(&b["incident"], false) {
                    return reply(422, json!({ "error": problem }).to_string());
                }
                let mut all = self.incidents.lock().unwrap();
                let Some(inc) = all.iter_mut().find(|i| i["id"] == id) else {
                    return reply(404, json!({"error": "incident not found"}).to_string());
                };
                for (k, v) in b["incident"].as_object().cloned().unwrap_or_default() {
                    inc[k] = v;
                }
                // A PATCH with a body is an incident update subscribers receive.
                if let Some(body) = b["incident"]["body"].as_str() {
                    self.updates.lock().unwrap().push((
                        id.to_string(),
                        inc["status"].as_str().unwrap_or_default().to_string(),
                        body.to_string(),
                    ));
                }
                reply(200, inc.to_string())
            }
            _ => reply(404, "{}"),
        }
    }

    /// What is wrong with an incident body: `status` (required when creating),
    /// `impact_override`, `component_ids` (known components) and `components` (known ids with
    /// component statuses).
    fn incident_problem(&self, inc: &Value, create: bool) -> Option<String> {
        const STATUS: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
        const IMPACT: [&str; 4] = ["none", "minor", "major", "critical"];
        const COMPONENT: [&str; 5] = [
            "operational",
            "degraded_performance",
            "partial_outage",
            "major_outage",
            "under_maintenance",
        ];
        if !inc.is_object() {
            return Some("incident must be an object".into());
        }
        match inc.get("status") {
            None if create => return Some("status can't be blank".into()),
            Some(s) if !s.as_str().is_some_and(|s| STATUS.contains(&s)) => {
                return Some(format!("status {s} is not one of {STATUS:?}"))
            }
            _ => {}
        }
        if let Some(i) = inc.get("impact_override") {
            if !i.as_str().is_some_and(|i| IMPACT.contains(&i)) {
                return Some(format!("impact_override {i} is not one of {IMPACT:?}"));
            }
        }
        let known = self.components.lock().unwrap();
        if let Some(ids) = inc.get("component_ids") {
            let Some(ids) = ids.as_array() else {
                return Some("component_ids must be an array".into());
            };
            if let Some(bad) = ids
                .iter()
                .find(|id| !id.as_str().is_some_and(|id| known.contains_key(id)))
            {
                return Some(format!("component {bad} not found"));
            }
        }
        if let Some(c) = inc.get("components") {
            let Some(c) = c.as_object() else {
                return Some("components must be an object".into());
            };
            for (id, status) in c {
                if !known.contains_key(id) {
                    return Some(format!("component {id} not found"));
                }
                if !status.as_str().is_some_and(|s| COMPONENT.contains(&s)) {
                    return Some(format!("component status {status} is not valid"));
                }
            }
        }
        None
    }

    pub fn component(&self, id: &str) -> String {
        self.script.assert_kept();
        self.components
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
}

/// Signs a PagerDuty webhook delivery as PagerDuty does: `v1=` HMAC-SHA256 of the raw body.
pub fn pagerduty_signature(secret: &str, body: &str) -> String {
    format!(
        "v1={}",
        syncwatch::inbound::hmac_hex(secret, &[body.as_bytes()])
    )
}

/// Signs a Slack request as Slack does: (`X-Slack-Request-Timestamp`, `X-Slack-Signature`).
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> (String, String) {
    let base = format!("v0:{timestamp}:");
    (
        timestamp.to_string(),
        format!(
            "v0={}",
            syncwatch::inbound::hmac_hex(secret, &[base.as_bytes(), body.as_bytes()])
        ),
    )
}
