//! The audit trail's hash chain (issue 16): every event is linked in the
//! transaction of its change; `verify-audit` finds an edited, a deleted and
//! a reordered event (altered directly in the database); erasure keeps the
//! chain verifiable; concurrent writers leave one chain.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use sowat_admin::audit::chain::{self, Verdict};
use sowat_admin::audit::{self, Action, ActorRef, Event, RequestMeta};
use sowat_admin::db::schema::audit_events;
use sowat_admin::db_run;

use crate::harness::{Kind, TestApp, select_text};

/// Writes `n` events, each its own transaction; returns their ids.
pub(crate) async fn write_events(app: &TestApp, n: usize, tag: &str) -> Vec<i64> {
    let mut db = app.db().await;
    for i in 0..n {
        audit::record_alone(
            &mut db,
            app.clock.now_primitive(),
            &ActorRef::system(),
            &RequestMeta::default(),
            Event::new(Action::NoteAdded).details(json!({ "tag": tag, "n": i })),
        )
        .await
        .expect("event written");
    }
    let ids: Vec<i64> = db_run!(&mut db, |c| audit_events::table
        .order(audit_events::id.desc())
        .limit(n as i64)
        .select(audit_events::id)
        .load(c)
        .await)
    .unwrap();
    ids.into_iter().rev().collect()
}

async fn verify(app: &TestApp) -> Verdict {
    let mut db = app.db().await;
    chain::verify(&mut db).await.expect("the chain is readable")
}

async fn set_details(app: &TestApp, id: i64, details: &str) {
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::update(audit_events::table.find(id))
        .set(audit_events::details.eq(details))
        .execute(c)
        .await)
    .unwrap();
}

async fn details_of(app: &TestApp, id: i64) -> String {
    let mut db = app.db().await;
    db_run!(&mut db, |c| audit_events::table
        .find(id)
        .select(audit_events::details)
        .first(c)
        .await)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_an_edited_a_reordered_and_a_deleted_event() {
    let app = TestApp::spawn().await;
    // Events from the product's own paths too: a sign-in, a user created.
    let (admin, _) = app.client_as(Kind::Admin).await;
    let ids = write_events(&app, 12, "chain").await;
    let sound = verify(&app).await;
    assert!(sound.ok(), "{sound:?}");
    assert!(sound.events >= 13, "{sound:?}");
    let (ok, out) = app.cli_text(&["verify-audit"]);
    assert!(ok && out.starts_with("OK: "), "{out}");
    assert!(out.contains(&sound.head_hash), "{out}");

    // An edited row.
    let original = details_of(&app, ids[3]).await;
    set_details(&app, ids[3], r#"{"tag":"chain","n":99}"#).await;
    let verdict = verify(&app).await;
    let broken = verdict.broken.clone().expect("an edit is found");
    assert_eq!((broken.id, broken.reason.as_str()), (ids[3], "edited"));
    let (ok, out) = app.cli_text(&["verify-audit"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("BROKEN: edited at audit event id {}", ids[3])),
        "{out}"
    );
    set_details(&app, ids[3], &original).await;
    assert!(verify(&app).await.ok(), "restored");

    // A reordered pair: two events trade places (their ids swapped, so
    // each shows under the other's number and in the other's position).
    let swap = |a: i64, b: i64| {
        [
            format!("UPDATE audit_events SET id = -1 WHERE id = {a}"),
            format!("UPDATE audit_events SET id = {a} WHERE id = {b}"),
            format!("UPDATE audit_events SET id = {b} WHERE id = -1"),
        ]
    };
    let mut db = app.db().await;
    for sql in swap(ids[6], ids[7]) {
        db_run!(&mut db, |c| diesel::sql_query(&sql).execute(c).await).unwrap();
    }
    let verdict = verify(&app).await;
    let broken = verdict.broken.clone().expect("a swap is found");
    assert_eq!(broken.reason, "edited", "{verdict:?}");
    assert!(broken.id == ids[6] || broken.id == ids[7], "{verdict:?}");
    for sql in swap(ids[6], ids[7]) {
        db_run!(&mut db, |c| diesel::sql_query(&sql).execute(c).await).unwrap();
    }
    assert!(verify(&app).await.ok(), "swapped back");
    drop(db);

    // A deleted row in the middle, then the last one.
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::delete(
        audit_events::table.find(ids[9])
    )
    .execute(c)
    .await)
    .unwrap();
    let verdict = verify(&app).await;
    let broken = verdict.broken.clone().expect("a deletion is found");
    assert_eq!(
        (broken.id, broken.reason.as_str()),
        (ids[10], "missing"),
        "the event after the gap"
    );
    let (ok, out) = app.cli_text(&["verify-audit"]);
    assert!(!ok && out.contains("BROKEN: missing"), "{out}");
    drop(db);

    // The audit page shows the last check's verdict (a scheduled task).
    let res = app.get(&admin, "/admin/audit").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = select_text(&res.text().await.unwrap(), "#chain-status").join(" ");
    assert!(text.contains("not been checked"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tail_cut_off_and_an_event_written_around_the_chain_are_found() {
    let app = TestApp::spawn().await;
    let ids = write_events(&app, 5, "tail").await;
    let mut db = app.db().await;
    db_run!(&mut db, |c| diesel::delete(
        audit_events::table.find(ids[4])
    )
    .execute(c)
    .await)
    .unwrap();
    let verdict = verify(&app).await;
    assert_eq!(
        verdict.broken.as_ref().map(|b| b.reason.as_str()),
        Some("missing"),
        "the head names a link no longer stored: {verdict:?}"
    );
    // Put back through a plain insert (no link): still refused.
    let sql = "INSERT INTO audit_events (at, actor_type, actor_label, action, outcome, details) \
               VALUES ('2026-01-01 00:00:00', 'system', 'system', 'user.note_added', 'allowed', '{}')";
    db_run!(&mut db, |c| diesel::sql_query(sql).execute(c).await).unwrap();
    let verdict = verify(&app).await;
    assert!(!verdict.ok(), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_check_records_its_verdict_for_the_audit_page() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let ids = write_events(&app, 3, "page").await;
    let task = {
        let mut db = app.db().await;
        let now = app.clock.now_primitive();
        sowat_admin::tasks::schedule::enqueue_due(
            &mut db,
            now,
            std::time::Duration::from_secs(300),
        )
        .await
        .unwrap();
        app.running().state.tasks.wake();
        latest_check(&mut db).await.expect("the check is scheduled")
    };
    app.wait_for_task(task.id).await;
    let page = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    let line = select_text(&page, "#chain-status").join(" ");
    assert!(line.contains("one unbroken chain"), "{line}");
    assert_eq!(
        select_attr_class(&page),
        "notice ok",
        "shown as sound: {line}"
    );
    // An event added since, then edited: the next check (from the last
    // sound link) finds it and the page says where.
    let later = write_events(&app, 2, "later").await;
    let original = details_of(&app, later[0]).await;
    set_details(&app, later[0], "{}").await;
    let again = run_check(&app, time::Duration::minutes(10)).await;
    assert_ne!(again, task.id);
    let page = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    let line = select_text(&page, "#chain-status").join(" ");
    assert!(
        line.contains(&format!("FAILED at event #{}", later[0])),
        "{line}"
    );
    assert_eq!(select_attr_class(&page), "notice error");
    // Mended, then an edit before the last sound link: the checks from
    // that link pass it by; the day's whole walk finds it.
    set_details(&app, later[0], &original).await;
    run_check(&app, time::Duration::minutes(10)).await;
    let status = check_status(&app).await;
    assert!(status.verdict.ok(), "{status:?}");
    set_details(&app, ids[1], "{}").await;
    run_check(&app, time::Duration::minutes(10)).await;
    assert!(
        check_status(&app).await.verdict.ok(),
        "not walked again yet"
    );
    run_check(&app, time::Duration::hours(25)).await;
    let status = check_status(&app).await;
    assert_eq!(
        status.verdict.broken.map(|b| (b.id, b.reason)),
        Some((ids[1], "edited".to_owned()))
    );
}

async fn check_status(app: &TestApp) -> sowat_admin::admin::chain_check::ChainStatus {
    let mut db = app.db().await;
    sowat_admin::admin::chain_check::status(&mut db)
        .await
        .unwrap()
        .expect("a check ran")
}

/// Moves the clock on by `by`, lets the scheduler enqueue that slot's
/// check and waits for it; returns its task id.
async fn run_check(app: &TestApp, by: time::Duration) -> i64 {
    app.clock.advance(by);
    let mut db = app.db().await;
    sowat_admin::tasks::schedule::enqueue_due(
        &mut db,
        app.clock.now_primitive(),
        std::time::Duration::from_secs(300),
    )
    .await
    .unwrap();
    app.running().state.tasks.wake();
    let task = latest_check(&mut db).await.expect("scheduled");
    drop(db);
    app.wait_for_task(task.id).await;
    task.id
}

async fn latest_check(db: &mut sowat_admin::db::Db) -> Option<sowat_admin::tasks::store::Task> {
    sowat_admin::tasks::store::recent(db, None, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.kind() == Some(sowat_admin::tasks::Kind::AuditVerify))
}

fn select_attr_class(page: &str) -> String {
    crate::harness::select_attr(page, "#chain-status", "class").unwrap_or_default()
}

/// Erasure replaces a person's traces in events: the chain still verifies,
/// and the same replacement without a recorded erasure does not.
#[tokio::test(flavor = "multi_thread")]
async fn erasure_keeps_the_chain_verifiable() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    // The victim signs in and is denied something: events by their hand.
    let (c, victim) = app.client_as(Kind::Analyst).await;
    let victim = victim.expect("analyst");
    app.get(&c, "/admin/api-keys").await;
    let res = app
        .post_form(
            &admin,
            &format!("/admin/users/{}/erase", victim.id),
            &[("confirm_email", &victim.email)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mut db = app.db().await;
    let redacted: i64 = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::personal_salt.is_null())
        .filter(audit_events::seq.is_not_null())
        .count()
        .get_result(c)
        .await)
    .unwrap();
    assert!(redacted > 0, "the erasure replaced traces in events");
    let verdict = verify(&app).await;
    assert!(verdict.ok(), "{verdict:?}");
    assert_eq!(verdict.redacted, redacted);
    // The same trick on someone never erased is refused.
    let other = write_events(&app, 1, "other").await[0];
    let admin_id = app.create_user("x@example.test", &[], false).await.id;
    db_run!(&mut db, |c| diesel::update(audit_events::table.find(other))
        .set((
            audit_events::actor_id.eq(admin_id),
            audit_events::personal_salt.eq(None::<String>)
        ))
        .execute(c)
        .await)
    .unwrap();
    let verdict = verify(&app).await;
    assert!(!verdict.ok(), "{verdict:?}");
}

/// PostgreSQL: writers on many connections at once leave one chain, no
/// fork and no gap (on SQLite writers are one at a time by construction).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_leave_one_chain() {
    let app = TestApp::spawn().await;
    let pool = app.running().state.pool.clone();
    let clock = app.clock.clone();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (pool, clock) = (pool.clone(), clock.clone());
            tokio::spawn(async move {
                let mut db = pool.get().await.expect("a connection");
                for i in 0..200 {
                    audit::record_alone(
                        &mut db,
                        clock.now_primitive(),
                        &ActorRef::system(),
                        &RequestMeta::default(),
                        Event::new(Action::NoteAdded).details(json!({ "writer": w, "n": i })),
                    )
                    .await
                    .expect("written");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer finished");
    }
    let verdict = verify(&app).await;
    assert!(verdict.ok(), "{verdict:?}");
    assert!(verdict.events >= 1600, "{verdict:?}");
}

/// A signed digest of the head proves later that nothing up to it changed,
/// even after someone with database access rewrote the whole chain so that
/// it verifies again.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_digest_catches_a_rewritten_chain() {
    let app = TestApp::spawn().await;
    let ids = write_events(&app, 6, "digest").await;
    let (ok, digest, err) = app.cli(&["audit-digest"]);
    assert!(ok, "{err}");
    let parsed: serde_json::Value = serde_json::from_str(&digest).expect("JSON");
    assert_eq!(parsed["format"], "sowat-audit-digest-v1");
    let file = std::env::temp_dir().join(format!("digest-{}.json", ids[0]));
    std::fs::write(&file, &digest).unwrap();
    let path = file.display().to_string();
    let (ok, out, err) = app.cli(&["verify-audit", "--digest", &path]);
    assert!(ok && out.contains("holds"), "{out}{err}");
    // Later events do not disturb an earlier digest.
    write_events(&app, 2, "after").await;
    let (ok, out, err) = app.cli(&["verify-audit", "--digest", &path]);
    assert!(ok && out.contains("holds"), "{out}{err}");

    // An altered digest is refused.
    let mut forged = parsed.clone();
    forged["head_seq"] = serde_json::json!(parsed["head_seq"].as_i64().unwrap() - 1);
    let forged_file = std::env::temp_dir().join(format!("forged-{}.json", ids[0]));
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let (ok, _, err) = app.cli(&[
        "verify-audit",
        "--digest",
        &forged_file.display().to_string(),
    ]);
    assert!(!ok && err.contains("signature does not match"), "{err}");

    // An edit, then the whole chain recomputed around it: the chain alone
    // verifies again, the digest does not.
    set_details(&app, ids[2], r#"{"rewritten":true}"#).await;
    let mut db = app.db().await;
    for sql in [
        "UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL",
        "UPDATE audit_chain SET head_seq = 0, head_hash = '0000000000000000000000000000000000000000000000000000000000000000'",
    ] {
        db_run!(&mut db, |c| diesel::sql_query(sql).execute(c).await).unwrap();
    }
    chain::seal_pending(&mut db, None).await.unwrap();
    assert!(verify(&app).await.ok(), "the rewritten chain is consistent");
    let (ok, _, err) = app.cli(&["verify-audit", "--digest", &path]);
    assert!(
        !ok && err.contains("has changed since the digest was signed"),
        "{err}"
    );
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(forged_file);
}

/// The audit page hands an auditor the signed digest of the last sound
/// check; the command line accepts it later.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_downloads_a_signed_digest_of_the_checked_head() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    write_events(&app, 4, "page-digest").await;
    // Never checked: nothing is signed.
    let res = app.post_form(&admin, "/admin/audit/digest", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    assert!(
        select_text(&page, "#flash")
            .join(" ")
            .contains("No signed digest yet"),
        "{page}"
    );
    run_check(&app, time::Duration::minutes(10)).await;
    let res = app.post_form(&admin, "/admin/audit/digest", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("audit-digest-"), "{disposition}");
    let body = res.text().await.unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let sound = verify(&app).await;
    assert!(parsed["head_seq"].as_i64().unwrap() <= sound.head_seq);
    let file = std::env::temp_dir().join(format!("page-digest-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, &body).unwrap();
    let (ok, out, err) = app.cli(&["verify-audit", "--digest", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(ok && out.contains("holds"), "{out}{err}");
    let exported = app.audit("audit.digest_exported").await;
    assert_eq!(exported.len(), 1);
    assert!(
        exported[0]
            .2
            .contains(parsed["head_hash"].as_str().unwrap())
    );
}
