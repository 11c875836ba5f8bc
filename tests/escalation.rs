//! Escalation with the clock passed in (no waiting): an incident nobody acknowledged escalates
//! at `ack_timeout`, not a second earlier, exactly once even when two replicas look at the same
//! instant, and never once acknowledged — on SQLite and on a PostgreSQL store.

mod common;

use chrono::Duration;
use common::Fixture;
use sqlx::Executor;
use syncwatch::app::App;
use syncwatch::incidents::escalate_due;
use syncwatch::pass::{self, Selection};
use syncwatch::store::incidents::{Change, Changed};

async fn story(store_url: &str) {
    let settings = format!(
        "store: {{ url: \"{store_url}\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  slack: {{ type: slack, webhook_url: \"http://127.0.0.1:9/never-delivered\" }}\n\
         oncall:\n  timezone: UTC\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: \"2026-01-05\"\n\
         \x20 members: [ {{ name: ana, slack: U0ANA }}, {{ name: ben, slack: U0BEN }} ]\n\
         incidents: {{ ack_timeout: 15m }}\n"
    );
    let f = Fixture::new(
        &settings,
        &[("p.yaml", "checks:\n  - name: stale\n    source: p\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { after: 1, page: slack }\n")],
    );
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));",
    )
    .await;
    let (a, b) = (
        App::build(f.plan()).await.unwrap(),
        App::build(f.plan()).await.unwrap(),
    );
    pass::run(a.clone(), &Selection::All, chrono::Utc::now())
        .await
        .unwrap();
    let inc = a
        .store
        .incidents(true, 10)
        .await
        .unwrap()
        .pop()
        .expect("the page opened an incident");
    let opened = inc.opened_at;

    assert_eq!(
        escalate_due(&a, opened + Duration::minutes(15) - Duration::seconds(1)).await,
        0,
        "not before ack_timeout"
    );
    let at = opened + Duration::minutes(15);
    let (x, y) = tokio::join!(escalate_due(&a, at), escalate_due(&b, at));
    assert_eq!(x + y, 1, "two replicas at the same instant escalate once");
    assert_eq!(
        escalate_due(&a, opened + Duration::hours(2)).await,
        0,
        "and never again"
    );
    let escalations: Vec<_> = a
        .store
        .outbox_rows("stale")
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.0 == "escalate")
        .collect();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    let shown = a.store.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(
        (shown.status(), shown.escalated_at),
        ("escalated", Some(at))
    );

    // Acknowledged in time: the next incident never escalates.
    let later = opened + Duration::hours(3);
    assert!(matches!(
        syncwatch::respond::change::change_incident(
            &a.store,
            inc.id,
            Change::Resolve {
                by: "ana",
                note: "manual"
            },
            &a.plan.settings,
            later
        )
        .await
        .unwrap(),
        Changed::Done(_)
    ));
    pass::run(a.clone(), &Selection::All, chrono::Utc::now())
        .await
        .unwrap();
    let next = a
        .store
        .incidents(true, 10)
        .await
        .unwrap()
        .pop()
        .expect("still stale: a new incident");
    assert_ne!(next.id, inc.id);
    assert!(matches!(
        syncwatch::respond::change::change_incident(
            &a.store,
            next.id,
            Change::Ack { by: "ben" },
            &a.plan.settings,
            next.opened_at + Duration::minutes(1)
        )
        .await
        .unwrap(),
        Changed::Done(_)
    ));
    assert_eq!(
        escalate_due(&a, next.opened_at + Duration::hours(1)).await,
        0
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_on_a_sqlite_store() {
    story("sqlite:state.db").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_on_a_postgres_store_shared_by_two_replicas() {
    let Some((mut pg, db, store)) = common::pg_store("sw_escalate").await else {
        return;
    };
    story(&store).await;
    pg.execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
}
