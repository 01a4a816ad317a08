//! Retention of the audit trail (issue 16): events older than the setting
//! leave by a scheduled, audited purge that removes only a prefix of the
//! chain, so what stays still verifies from the recorded hash.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sowat_admin::audit::{chain, retention};
use sowat_admin::db::schema::audit_events;
use sowat_admin::db_run;
use sowat_admin::tasks::{Kind, schedule, store};

use crate::audit_chain::write_events;
use crate::harness::{Kind as Actor, Options, TestApp, select_text};

/// (seq, hash) of every stored event, in chain order.
async fn links(app: &TestApp) -> Vec<(i64, String)> {
    let mut db = app.db().await;
    let rows: Vec<(Option<i64>, Option<String>)> = db_run!(&mut db, |c| audit_events::table
        .order(audit_events::seq)
        .select((audit_events::seq, audit_events::hash))
        .load(c)
        .await)
    .unwrap();
    rows.into_iter()
        .map(|(s, h)| (s.unwrap(), h.unwrap()))
        .collect()
}

/// `audit-digest` now, written to a temporary file.
fn digest_file(app: &TestApp) -> std::path::PathBuf {
    let (ok, digest) = app.cli_text(&["audit-digest"]);
    assert!(ok, "{digest}");
    let file = std::env::temp_dir().join(format!("digest-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, &digest).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn the_purge_removes_old_events_and_the_chain_still_verifies() {
    let app = TestApp::spawn_with(Options {
        audit_retention_days: Some(30),
        ..Options::default()
    })
    .await;
    let (_, admin) = app.client_as(Actor::Admin).await;
    let admin = admin.expect("an admin");
    // Two auditor's digests: one in the middle of what will be purged, one
    // of the last link purged.
    write_events(&app, 10, "retention").await;
    let early_file = digest_file(&app);
    write_events(&app, 10, "retention").await;
    let last_file = digest_file(&app);
    let old = links(&app).await;

    app.clock.advance(time::Duration::days(31));
    write_events(&app, 3, "retention").await;
    let now = app.clock.now_primitive();
    let cutoff = now - time::Duration::days(30);

    // A first slice of five: the chain's base moves, it verifies.
    let mut db = app.db().await;
    let slice = db
        .transaction(|tx| Box::pin(async move { retention::purge_slice(tx, now, cutoff, 5).await }))
        .await
        .unwrap()
        .expect("old events are due");
    assert_eq!((slice.events, slice.from_seq, slice.to_seq), (5, 1, 5));
    assert_eq!(slice.base_hash, old[4].1, "the hash the chain starts from");
    assert_eq!(chain::base_seq(&mut db).await.unwrap(), 6);
    let verdict = chain::verify(&mut db).await.unwrap();
    assert!(verdict.ok(), "{verdict:?}");

    // The scheduled task removes the rest of what is older than 30 days.
    assert!(
        schedule::enqueue_audit_purge(&mut db, now, 30)
            .await
            .unwrap()
    );
    assert!(
        !schedule::enqueue_audit_purge(&mut db, now, 30)
            .await
            .unwrap(),
        "once a day"
    );
    app.running().state.tasks.wake();
    let task = store::recent(&mut db, None, 20)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.kind() == Some(Kind::AuditPurge))
        .expect("the purge is queued");
    drop(db);
    let task = app.wait_for_task(task.id).await;
    assert_eq!(task.state, "succeeded", "{task:?}");

    let kept = links(&app).await;
    let removed = old.len() - 5;
    let first_kept = kept[0].0;
    assert_eq!(
        first_kept,
        old.len() as i64 + 1,
        "everything before the cutoff went"
    );
    let mut db = app.db().await;
    let verdict = chain::verify(&mut db).await.unwrap();
    assert!(verdict.ok(), "{verdict:?}");
    assert_eq!(chain::base_seq(&mut db).await.unwrap(), first_kept);

    // Each slice is an event naming its range and the hash it starts from.
    let purges: Vec<String> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::action.eq("audit.purged"))
        .order(audit_events::id)
        .select(audit_events::details)
        .load(c)
        .await)
    .unwrap();
    assert_eq!(purges.len(), 2, "{purges:?}");
    let last: serde_json::Value = serde_json::from_str(&purges[1]).unwrap();
    assert_eq!(last["events"], removed as i64);
    assert_eq!(last["to_link"], old.len() as i64);
    assert_eq!(last["chain_starts_from"], old.last().unwrap().1.as_str());
    drop(db);

    // New events link on; the command line agrees; the old digest is
    // reported as purged, not as tampering.
    write_events(&app, 2, "retention").await;
    let (ok, out) = app.cli_text(&["verify-audit"]);
    assert!(ok && out.starts_with("OK: "), "{out}");
    let (ok, out) = app.cli_text(&["verify-audit", "--digest", early_file.to_str().unwrap()]);
    assert!(
        !ok && out.contains("removed by the retention purge"),
        "{out}"
    );
    // The last purged link is the chain's recorded base: it still holds.
    let (ok, out) = app.cli_text(&["verify-audit", "--digest", last_file.to_str().unwrap()]);
    assert!(ok && out.contains("holds"), "{out}");
    let _ = std::fs::remove_file(&early_file);
    let _ = std::fs::remove_file(&last_file);

    // The audit page states the policy; nothing is due any more.
    // (The first session expired with the month; a fresh one.)
    let client = app.client();
    app.sign_in(&client, &admin).await;
    let page = app.get(&client, "/admin/audit").await.text().await.unwrap();
    let line = select_text(&page, "#retention").join(" ");
    assert!(
        line.contains("30 days") && line.contains(&format!("#{first_kept}")),
        "{line}"
    );
    let mut db = app.db().await;
    let now = app.clock.now_primitive();
    let again = db
        .transaction(|tx| {
            Box::pin(async move {
                retention::purge_slice(tx, now, now - time::Duration::days(30), 5000).await
            })
        })
        .await
        .unwrap();
    assert_eq!(again, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_retention_events_are_kept_and_no_purge_is_scheduled() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Actor::Admin).await;
    let page = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    let line = select_text(&page, "#retention").join(" ");
    assert!(line.contains("kept forever"), "{line}");
    let mut db = app.db().await;
    schedule::enqueue_due(
        &mut db,
        app.clock.now_primitive(),
        std::time::Duration::from_secs(300),
    )
    .await
    .unwrap();
    let queued = store::recent(&mut db, None, 50).await.unwrap();
    assert!(queued.iter().all(|t| t.kind() != Some(Kind::AuditPurge)));
}
