//! The task runner: long work leaves the request, reports progress,
//! survives a crash without doing anything twice, re-runs a task whose
//! worker died, retries mail while the server is down.

use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use sowat_admin::db::schema::{audit_events, outbox, users};
use sowat_admin::db::types::UserStatus;
use sowat_admin::db_run;
use sowat_admin::tasks::runner::LEASE;
use sowat_admin::tasks::store::{self, Advance};
use sowat_admin::tasks::{Kind, NewTask, schedule};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::harness::{Kind as Actor, Options, TestApp, select_text, task_of};

async fn count_status(app: &TestApp, status: UserStatus) -> i64 {
    let mut db = app.db().await;
    db_run!(&mut db, |c| users::table
        .filter(users::status.eq(status))
        .filter(users::deleted_at.is_null())
        .count()
        .get_result(c)
        .await)
    .expect("count")
}

/// Enqueues a task of `kind` due at `at` (later than the instance's clock,
/// so only the test claims it), started by `by`.
async fn enqueue_at(
    app: &TestApp,
    kind: Kind,
    by: Option<i64>,
    at: time::PrimitiveDateTime,
) -> i64 {
    let now = app.clock.now_primitive();
    let mut db = app.db().await;
    db.transaction(|tx| {
        Box::pin(async move {
            let mut task = NewTask::new(kind, json!({}), at);
            task.created_by = by;
            store::enqueue(tx, task, now).await
        })
    })
    .await
    .expect("enqueue")
}

/// Records `done` more for task `id` as worker `owner` would; whether it
/// was accepted.
async fn progress_as(
    app: &TestApp,
    id: i64,
    owner: &'static str,
    done: i64,
    at: time::PrimitiveDateTime,
) -> bool {
    let mut db = app.db().await;
    db.transaction(|tx| {
        Box::pin(async move {
            let step = Advance {
                done,
                ..Advance::default()
            };
            store::advance(tx, id, owner, &step, at + LEASE).await
        })
    })
    .await
    .expect("advance")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_suspend_of_20000_users_survives_a_crash_and_changes_each_once() {
    let mut app = TestApp::spawn().await;
    let state = app.running().state.clone();
    sowat_admin::seed::users(&state.pool, &app.clock, 20_000, None)
        .await
        .expect("seed");
    drop(state);
    let (admin, admin_user) = app.client_as(Actor::Admin).await;
    let admin_user = admin_user.expect("admin");
    let active = count_status(&app, UserStatus::Active).await;
    assert!(active > 17_000, "{active}");

    let token = app.csrf(&admin).await;
    let res = admin
        .post(app.url("/admin/users/bulk/status"))
        .form(&[
            ("_csrf", token.as_str()),
            ("status", "ACTIVE"),
            ("all", "1"),
            ("action", "suspend"),
            ("confirmed", "1"),
            ("reason", "Fraud ring"),
        ])
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = task_of(&res);

    // Progress shows while it runs, and other pages answer meanwhile.
    let mut seen_midway = None;
    for _ in 0..3000 {
        let mut db = app.db().await;
        let t = store::get(&mut db, id).await.expect("read").expect("task");
        drop(db);
        if t.done >= 1_000 {
            assert!(!t.state().is_over(), "still running at {}", t.done);
            seen_midway = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let midway = seen_midway.expect("the task made progress");
    assert_eq!(midway.total, Some(active));
    let page = app.get(&admin, &format!("/admin/tasks/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    assert_eq!(
        select_text(&html, "#task-progress .task-state"),
        vec!["Running"]
    );
    assert_eq!(
        app.get(&admin, "/admin/users").await.status(),
        StatusCode::OK
    );

    // A crash mid-way: the new instance resumes once the lease has expired.
    app.crash_and_restart().await;
    app.clock.advance(LEASE + time::Duration::seconds(1));
    let t = app.wait_for_task(id).await;
    assert_eq!(t.state, "succeeded", "{:?}", t.last_error);
    assert_eq!(t.attempts, 2, "claimed again after the crash");
    assert_eq!(t.done, active, "every user handled exactly once");
    assert_eq!(t.errors, 1, "the administrator doing it is left alone");

    assert_eq!(count_status(&app, UserStatus::Active).await, 1);
    let mut db = app.db().await;
    let events: Vec<Option<String>> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::action.eq("user.status_changed"))
        .select(audit_events::target_id)
        .load(c)
        .await)
    .expect("events");
    let distinct: std::collections::HashSet<_> = events.iter().collect();
    assert_eq!(
        events.len() as i64,
        active - 1,
        "one event per changed user"
    );
    assert_eq!(distinct.len(), events.len(), "no user audited twice");
    let started: i64 = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::action.eq("task.started"))
        .count()
        .get_result(c)
        .await)
    .expect("start event");
    drop(db);
    assert_eq!(started, 1, "{:?}", app.audit("task.started").await);

    // The person who started it sees how it ended and what was left alone.
    let (admin, _) = (app.client(), ());
    app.sign_in(&admin, &admin_user).await;
    let html = app
        .get(&admin, &format!("/admin/tasks/{id}"))
        .await
        .text()
        .await
        .expect("page");
    assert_eq!(
        select_text(&html, "#task-progress .task-state"),
        vec!["Done"]
    );
    let left = select_text(&html, "#task-skipped td");
    assert!(left.contains(&admin_user.email), "{left:?}");
    let list = app
        .get(&admin, "/admin/tasks")
        .await
        .text()
        .await
        .expect("list");
    let ids = select_text(&list, "#task-table tbody td:first-child a");
    assert!(ids.contains(&id.to_string()), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_whose_worker_died_is_run_again_by_another() {
    let app = TestApp::spawn().await;
    app.wait_for_idle_tasks().await;
    let pool = app.running().state.pool.clone();
    let now = app.clock.now_primitive();
    let mut db = pool.get().await.expect("db");
    // Due in an hour, so this instance's workers leave it alone for now.
    let later = now + time::Duration::hours(1);
    let id = enqueue_at(&app, Kind::Housekeeping, None, later).await;
    // A worker elsewhere claims it, then dies without a word.
    let claimed = store::claim(&mut db, "dead-worker", later, LEASE)
        .await
        .expect("claim")
        .expect("due then");
    assert_eq!((claimed.id, claimed.attempts), (id, 1));
    // Nobody else takes it while the lease holds.
    assert!(
        store::claim(&mut db, "other", later + time::Duration::seconds(5), LEASE)
            .await
            .expect("claim")
            .is_none()
    );
    // Past the lease, this instance's workers take it and finish it.
    app.clock
        .advance(time::Duration::hours(1) + LEASE + time::Duration::seconds(1));
    drop(db);
    let t = app.wait_for_task(id).await;
    assert_eq!((t.state.as_str(), t.attempts), ("succeeded", 2));
    assert_ne!(t.lease_owner.as_deref(), Some("dead-worker"));
    // The dead worker's late writes change nothing.
    let moved = progress_as(&app, id, "dead-worker", 5, later).await;
    assert!(!moved, "a lost lease cannot record progress");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_stops_a_queued_task_at_once_and_a_running_one_at_its_next_step() {
    let app = TestApp::spawn().await;
    app.wait_for_idle_tasks().await;
    let (admin, user) = app.client_as(Actor::Admin).await;
    let user = user.expect("admin");
    let (tester, _) = app.client_as(Actor::Tester).await;
    let now = app.clock.now_primitive();
    let later = now + time::Duration::hours(1);
    let mut db = app.db().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(enqueue_at(&app, Kind::UsersCsvExport, Some(user.id), later).await);
    }
    // Someone else's task is not even visible to a tester.
    assert_eq!(
        app.get(&tester, &format!("/admin/tasks/{}", ids[0]))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let res = app
        .post_form(&admin, &format!("/admin/tasks/{}/cancel", ids[0]), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let t = store::get(&mut db, ids[0])
        .await
        .expect("read")
        .expect("task");
    assert_eq!(t.state, "cancelled");
    assert_eq!(app.audit("task.cancelled").await.len(), 1);

    // Running elsewhere: its next step is refused, so nothing more is done.
    let running = store::claim(&mut db, "worker-x", later, LEASE)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(running.id, ids[1]);
    app.post_form(&admin, &format!("/admin/tasks/{}/cancel", ids[1]), &[])
        .await;
    let id = ids[1];
    let moved = progress_as(&app, id, "worker-x", 1, later).await;
    assert!(!moved);
    // The download of a task that produced nothing is not there.
    assert_eq!(
        app.download(&admin, id).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_csv_export_of_every_matching_user_is_a_download_once_done() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Actor::Admin).await;
    for i in 0..450 {
        app.create_user(&format!("csv{i:03}@export.test"), &[], false)
            .await;
    }
    let token = app.csrf(&admin).await;
    let res = admin
        .post(app.url("/admin/users/bulk/export"))
        .form(&[
            ("_csrf", token.as_str()),
            ("q", "export.test"),
            ("all", "1"),
            ("action", "export"),
            ("confirmed", "1"),
        ])
        .send()
        .await
        .expect("start");
    let t = app.wait_for_task(task_of(&res)).await;
    assert_eq!(
        (t.state.as_str(), t.done, t.total),
        ("succeeded", 450, Some(450))
    );
    let res = app.download(&admin, t.id).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let day = app.clock.now_primitive().date();
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"users-{day}.csv\"").as_str()
    );
    let text = res.text().await.expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        451,
        "a header and one line per user, across chunks"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with('\u{feff}')).count(),
        1
    );
    assert_eq!(app.audit("user.exported_csv").await.len(), 450);
    // Only its starter downloads it.
    let (analyst, _) = app.client_as(Actor::Analyst).await;
    assert_eq!(
        app.download(&analyst, t.id).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_enqueues_each_slot_once() {
    let app = TestApp::spawn().await;
    let mut db = app.db().await;
    let now = app.clock.now_primitive() + time::Duration::days(400);
    let period = std::time::Duration::from_secs(300);
    let first = schedule::enqueue_due(&mut db, now, period)
        .await
        .expect("schedule");
    let again = schedule::enqueue_due(&mut db, now, period)
        .await
        .expect("schedule");
    assert_eq!((first, again), (Kind::SCHEDULED.len(), 0));
}

/// A minimal SMTP server: accepts every message and keeps what it got.
pub(crate) async fn smtp_server(listener: TcpListener, got: Arc<Mutex<Vec<String>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let got = got.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 test ESMTP\r\n").await;
            let mut data = false;
            let mut message = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if data {
                    if line == "." {
                        data = false;
                        got.lock().expect("lock").push(std::mem::take(&mut message));
                        let _ = write.write_all(b"250 queued\r\n").await;
                    } else {
                        message.push_str(&line);
                        message.push('\n');
                    }
                    continue;
                }
                let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                let answer: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 test\r\n",
                    "DATA" => {
                        data = true;
                        b"354 go ahead\r\n"
                    }
                    "QUIT" => {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    }
                    _ => {
                        if verb == "RCPT" {
                            message.push_str(&format!("{line}\n"));
                        }
                        b"250 ok\r\n"
                    }
                };
                let _ = write.write_all(answer).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_is_delivered_by_smtp_and_retried_while_the_server_is_down() {
    // A port with nobody listening yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let app = TestApp::spawn_with(Options {
        smtp: Some(format!("smtp://127.0.0.1:{port}")),
        ..Options::default()
    })
    .await;
    let (admin, _) = app.client_as(Actor::Admin).await;
    let user = app.create_user("mailme@example.test", &[], false).await;
    let res = app
        .post_form(
            &admin,
            &format!("/admin/users/{}/password-reset", user.id),
            &[],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let pool = app.running().state.pool.clone();
    // The first attempt fails and is scheduled again.
    let mut task = None;
    for _ in 0..200 {
        let mut db = pool.get().await.expect("db");
        let all = store::recent(&mut db, None, 10).await.expect("tasks");
        if let Some(t) = all
            .into_iter()
            .find(|t| t.kind == "mail.deliver" && t.attempts >= 1 && t.state == "queued")
        {
            task = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let task = task.expect("a failed attempt, queued again");
    assert!(
        task.last_error
            .as_deref()
            .is_some_and(|e| e.contains("unavailable")),
        "{:?}",
        task.last_error
    );
    // The server comes up; after the backoff the message goes through.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind smtp");
    let got = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_server(listener, got.clone()));
    app.clock.advance(time::Duration::seconds(11));
    let t = app.wait_for_task(task.id).await;
    assert_eq!(t.state, "succeeded", "{:?}", t.last_error);
    assert_eq!(t.attempts, 2);
    let messages = got.lock().expect("lock").clone();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("mailme@example.test"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("/reset/"), "the link is in the body");
    let mut db = pool.get().await.expect("db");
    let unsent: i64 = db_run!(&mut db, |c| outbox::table
        .filter(outbox::sent_at.is_null())
        .count()
        .get_result(c)
        .await)
    .expect("outbox");
    assert_eq!(unsent, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claimers_take_each_task_exactly_once() {
    let app = TestApp::spawn().await;
    let pool = app.running().state.pool.clone();
    let now = app.clock.now_primitive();
    // Due later than this instance's clock, so only the claimers below see them.
    let later = now + time::Duration::hours(2);
    let mut ours = std::collections::HashSet::new();
    for _ in 0..30 {
        ours.insert(enqueue_at(&app, Kind::Housekeeping, None, later).await);
    }
    let claimers = (0..3).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut db = pool.get().await.expect("db");
                match store::claim(&mut db, &format!("claimer-{i}"), later, LEASE).await {
                    Ok(Some(t)) => mine.push(t.id),
                    Ok(None) => return mine,
                    // SQLite answers "busy" past its wait; try again.
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        })
    });
    let mut all = Vec::new();
    for c in claimers {
        // The scheduled tasks of the instance may be due too: only ours count.
        all.extend(
            c.await
                .expect("claimer")
                .into_iter()
                .filter(|id| ours.contains(id)),
        );
    }
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (30, 30));
}
