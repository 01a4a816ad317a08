//! BullMQ supervision against the real Node client (tests/bullmq-node) on
//! the local Redis: run by `.ci/run` with `--ignored` (they need Node and
//! Redis, which `cargo test` on a fresh machine has not).

use std::time::Duration;

use serde_json::json;

use crate::bull::{Bull, job};
use crate::harness::{Kind, Options, TestApp, location, select_text};

async fn app_with(bull: &Bull) -> TestApp {
    TestApp::spawn_with(Options {
        jobs: bull.config(),
        ..Options::default()
    })
    .await
}

/// Waits until the jobs overview shows the queues (the link connects in
/// the background).
async fn connected(app: &TestApp, client: &reqwest::Client) {
    for _ in 0..100 {
        let html = app
            .get(client, "/admin/jobs")
            .await
            .text()
            .await
            .expect("body");
        if html.contains("data-queue=\"articleQueue\"") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the jobs overview never showed the queues");
}

/// Polls `path` until its page holds `needle`.
async fn eventually(app: &TestApp, client: &reqwest::Client, path: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = app.get(client, path).await.text().await.expect("body");
        if last.contains(needle) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never showed {needle:?}; last page:\n{last}");
}

async fn count(app: &TestApp, sql_table: &str) -> i64 {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut db = app.db().await;
    let q = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {sql_table}");
    sowat_admin::db_run!(&mut db, |c| diesel_async::RunQueryDsl::get_result::<N>(
        diesel::sql_query(&q),
        c
    )
    .await)
    .expect("count")
    .n
}

/// Waits (up to 10 s) until `table` holds `n` rows; how many it holds.
async fn rows_become(app: &TestApp, table: &str, n: i64) -> i64 {
    for _ in 0..100 {
        if count(app, table).await == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    count(app, table).await
}

async fn minute_sums(app: &TestApp) -> (i64, i64) {
    let mut db = app.db().await;
    let now = app.clock.now();
    let rows = sowat_admin::jobs::stats::window(&mut db, now, 24 * 60)
        .await
        .expect("window");
    rows.iter()
        .fold((0, 0), |(c, f), (_, w)| (c + w.completed, f + w.failed))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn staff_supervise_the_node_queues() {
    let bull = Bull::new();
    let app = app_with(&bull).await;
    let member = app.create_user("writer@example.test", &[], false).await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    connected(&app, &admin).await;
    let mut worker = bull.worker("articleQueue").await;
    let ids = bull
        .produce(
            "articleQueue",
            json!([
                job("generate", json!({"mode": "ok", "userId": member.id}), json!({})),
                job(
                    "generate",
                    json!({"mode": "fail_until", "ok_at": 3, "error": "OpenAI timeout after 30012ms", "userId": member.id}),
                    json!({"attempts": 2, "backoff": {"type": "fixed", "delay": 50}})
                ),
                job("later", json!({"mode": "ok"}), json!({"delay": 600_000})),
            ]),
        )
        .await;
    let (ok, flaky, later) = (&ids[0], &ids[1], &ids[2]);
    worker.wait_for("completed", Some(ok)).await;
    // Two failed attempts: the second is final.
    for _ in 0..50 {
        if worker
            .seen
            .iter()
            .filter(|v| v["event"] == "failed" && v["id"] == *flaky)
            .count()
            == 2
        {
            break;
        }
        worker
            .count_within("failed", flaky, Duration::from_millis(200))
            .await;
    }

    // The overview: counts, a worker online.
    let html = app
        .get(&admin, "/admin/jobs")
        .await
        .text()
        .await
        .expect("body");
    let failed = select_text(&html, "#queue-articleQueue tr[data-state=failed] td");
    assert_eq!(failed, ["1"], "one failed job");
    let delayed = select_text(&html, "#queue-articleQueue tr[data-state=delayed] td");
    assert_eq!(delayed, ["1"]);
    assert_eq!(select_text(&html, "#queue-articleQueue .workers"), ["1"]);

    // The failed list and the job's page.
    let html = app
        .get(&admin, "/admin/jobs/articleQueue/failed")
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains(&format!("data-id=\"{flaky}\"")), "{html}");
    assert!(html.contains("OpenAI timeout after 30012ms"));
    let page = format!("/admin/jobs/articleQueue/job/{flaky}");
    let html = app.get(&admin, &page).await.text().await.expect("body");
    assert_eq!(select_text(&html, "#job-state"), ["Failed"]);
    assert_eq!(select_text(&html, "#job-attempts"), ["2 / 2"]);
    assert_eq!(
        select_text(&html, "details.stack summary"),
        ["Attempt 1", "Attempt 2"]
    );
    assert!(
        html.contains("peer.js"),
        "the stack trace shows where it failed"
    );
    assert!(select_text(&html, "#job-logs")[0].contains("started attempt 2"));
    assert_eq!(
        crate::harness::select_attr(&html, "#job-user", "href").as_deref(),
        Some(format!("/admin/users/{}", member.id).as_str())
    );
    assert!(select_text(&html, "#job-data")[0].contains("\"mode\": \"fail_until\""));

    // The index kept both attempts and groups them under one error.
    let mut html = String::new();
    for _ in 0..100 {
        html = app
            .get(&admin, "/admin/jobs/failures?q=openai")
            .await
            .text()
            .await
            .expect("body");
        if select_text(&html, "#failures tbody tr").len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(select_text(&html, "#failures tbody tr").len(), 2, "{html}");
    assert_eq!(select_text(&html, "#error-groups tbody tr td.num"), ["2"]);
    let by_user = app
        .get(&admin, &format!("/admin/jobs/failures?user={}", member.id))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&by_user, "#failures tbody tr").len(), 2);
    let none = app
        .get(&admin, "/admin/jobs/failures?q=nothing-like-this")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&none, "#no-failures").len(), 1);

    // Support reads, cannot act.
    let (support, _) = app.client_as(Kind::Support).await;
    assert_eq!(app.get(&support, &page).await.status(), 200);
    let res = app.post_form(&support, &format!("{page}/retry"), &[]).await;
    assert_eq!(res.status(), 403);

    // Retry: the Node worker takes it again and this third attempt succeeds.
    let res = app.post_form(&admin, &format!("{page}/retry"), &[]).await;
    assert_eq!(location(&res), page);
    worker.wait_for("completed", Some(flaky)).await;
    let retried = app.audit("jobs.job_retried").await;
    assert_eq!(retried.len(), 1);
    assert!(retried[0].2.contains(&format!("\"job\":\"{flaky}\"")));

    // Promote: the delayed job runs now.
    let res = app
        .post_form(
            &admin,
            &format!("/admin/jobs/articleQueue/job/{later}/promote"),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    worker.wait_for("completed", Some(later)).await;
    assert_eq!(app.audit("jobs.job_promoted").await.len(), 1);

    // A retry on a job that is no longer failed says so and audits nothing.
    let res = app.post_form(&admin, &format!("{page}/retry"), &[]).await;
    assert_eq!(location(&res), page);
    let html = app.get(&admin, &page).await.text().await.expect("body");
    assert!(
        select_text(&html, "#flash")[0].contains("not in a state"),
        "{html}"
    );
    assert_eq!(app.audit("jobs.job_retried").await.len(), 1);

    // Delete a failed job.
    let doomed = bull
        .produce(
            "articleQueue",
            json!([job(
                "generate",
                json!({"mode": "fail", "error": "quota exceeded"}),
                json!({})
            )]),
        )
        .await;
    worker.wait_for("failed", Some(&doomed[0])).await;
    let res = app
        .post_form(
            &admin,
            &format!("/admin/jobs/articleQueue/job/{}/delete", doomed[0]),
            &[("back", "failed")],
        )
        .await;
    assert_eq!(location(&res), "/admin/jobs/articleQueue/failed");
    assert_eq!(
        app.get(
            &admin,
            &format!("/admin/jobs/articleQueue/job/{}", doomed[0])
        )
        .await
        .status(),
        404
    );
    assert_eq!(app.audit("jobs.job_deleted").await.len(), 1);

    // Pause: the worker takes nothing until the queue is resumed.
    let res = app
        .post_form(&admin, "/admin/jobs/articleQueue/pause", &[])
        .await;
    assert_eq!(location(&res), "/admin/jobs");
    let html = app
        .get(&admin, "/admin/jobs")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#paused-articleQueue").len(), 1);
    let waiting = bull
        .produce(
            "articleQueue",
            json!([job("generate", json!({"mode": "ok"}), json!({}))]),
        )
        .await;
    assert_eq!(
        worker
            .count_within("completed", &waiting[0], Duration::from_millis(1500))
            .await,
        0,
        "a paused queue's job waits"
    );
    app.post_form(&admin, "/admin/jobs/articleQueue/resume", &[])
        .await;
    worker.wait_for("completed", Some(&waiting[0])).await;
    assert_eq!(app.audit("jobs.queue_paused").await.len(), 1);
    assert_eq!(app.audit("jobs.queue_resumed").await.len(), 1);

    // The per-minute counts saw every completion and failure.
    eventually(
        &app,
        &admin,
        "/admin/jobs/failures?q=quota",
        "quota exceeded",
    )
    .await;
    for _ in 0..50 {
        if minute_sums(&app).await == (4, 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        minute_sums(&app).await,
        (4, 3),
        "4 completed, 3 failed attempts"
    );

    worker.stop().await;
    bull.clean().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn the_index_counts_each_event_once_across_instances_and_restarts() {
    let bull = Bull::new();
    let mut app = app_with(&bull).await;
    let second = app.second_instance().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    connected(&app, &admin).await;
    let mut worker = bull.worker("articleQueue").await;
    let batch = |n: usize, error: &str| {
        json!(
            (0..n)
                .map(|i| job(
                    "generate",
                    json!({"mode": "fail", "error": format!("{error} {i}"), "userId": 7}),
                    json!({})
                ))
                .collect::<Vec<_>>()
        )
    };
    let first = bull
        .produce("articleQueue", batch(30, "render crashed on page"))
        .await;
    for id in &first {
        worker.wait_for("failed", Some(id)).await;
    }
    assert_eq!(rows_become(&app, "job_failures", 30).await, 30);
    second.stop().await;

    // Down while 20 more fail; back up, it resumes from its cursor.
    app.crash_and_restart().await;
    let more = bull
        .produce("articleQueue", batch(20, "render crashed on page"))
        .await;
    for id in &more {
        worker.wait_for("failed", Some(id)).await;
    }
    for _ in 0..100 {
        if count(&app, "job_failures").await == 50 && minute_sums(&app).await.1 == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&app, "job_failures").await,
        50,
        "nothing lost or doubled"
    );
    assert_eq!(minute_sums(&app).await, (0, 50));
    // One error group: the numbers are folded.
    assert_eq!(count(&app, "job_errors").await, 1);
    let html = app
        .get(&admin, "/admin/jobs/failures?user=7")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#error-groups td.num"), ["50"]);
    assert_eq!(select_text(&html, "#failures tbody tr").len(), 50);
    // A particular of one occurrence finds its failures, not the group's.
    let html = app
        .get(&admin, "/admin/jobs/failures?q=on+page+7")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#failures tbody tr").len(), 2, "{html}");
    assert_eq!(select_text(&html, "#error-groups tbody tr").len(), 1);
    worker.stop().await;
    bull.clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_the_jobs_screens_say_so() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let html = app
        .get(&admin, "/admin/jobs")
        .await
        .text()
        .await
        .expect("body");
    assert!(select_text(&html, "#jobs-problem")[0].contains("SOWAT_REDIS_URL"));
    let res = app.get(&admin, "/admin/jobs/articleQueue/failed").await;
    assert_eq!(res.status(), 200);
    let res = app.get(&admin, "/admin/jobs/nope/failed").await;
    assert_eq!(res.status(), 404);
    let res = app.get(&admin, "/admin/jobs/articleQueue/nope").await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_form(&admin, "/admin/jobs/articleQueue/pause", &[])
        .await;
    assert_eq!(location(&res), "/admin/jobs");
    let html = app
        .get(&admin, "/admin/jobs")
        .await
        .text()
        .await
        .expect("body");
    assert!(select_text(&html, "#flash")[0].contains("SOWAT_REDIS_URL"));
    assert!(
        app.audit("jobs.queue_paused").await.is_empty(),
        "nothing done, nothing audited"
    );
    let html = app
        .get(&admin, "/admin/jobs/failures")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#no-failures").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn the_api_reads_retries_deletes_and_searches() {
    use sowat_admin::access::Scope;
    let bull = Bull::new();
    let app = app_with(&bull).await;
    let (_, reader) = crate::api::make_key(&app, &[Scope::JobsRead], 1000, 1_000_000).await;
    let (_, writer) =
        crate::api::make_key(&app, &[Scope::JobsRead, Scope::JobsWrite], 1000, 1_000_000).await;
    let http = reqwest::Client::new();
    let get = |path: String, key: &str| http.get(app.url(&path)).bearer_auth(key).send();
    // Connected once the queues read.
    let mut queues = serde_json::Value::Null;
    for _ in 0..100 {
        let res = get("/api/v1/jobs/queues".into(), &reader)
            .await
            .expect("GET");
        if res.status() == 200 {
            queues = res.json().await.expect("json");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(queues["queues"][0]["name"], "articleQueue", "{queues}");
    let mut worker = bull.worker("articleQueue").await;
    let ids = bull
        .produce(
            "articleQueue",
            json!([
                job("generate", json!({"mode": "fail_until", "ok_at": 2, "error": "Model overloaded", "userId": 41}), json!({})),
                job("generate", json!({"mode": "fail", "error": "Model overloaded", "userId": 42}), json!({})),
                job("generate", json!({"mode": "fail", "error": "Bad prompt", "userId": 43}), json!({})),
            ]),
        )
        .await;
    for id in &ids {
        worker.wait_for("failed", Some(id)).await;
    }
    let page: serde_json::Value = get("/api/v1/jobs/articleQueue/failed?limit=2".into(), &reader)
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 3);
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(2));
    let one: serde_json::Value = get(format!("/api/v1/jobs/articleQueue/{}", ids[0]), &reader)
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(one["state"], "failed");
    assert_eq!(one["user_id"], 41);
    assert_eq!(one["stacktraces"].as_array().map(Vec::len), Some(1));

    // The index has seen all three before any is deleted.
    for _ in 0..100 {
        let all: serde_json::Value = get("/api/v1/jobs/failures".into(), &reader)
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        if all["failures"].as_array().map(Vec::len) == Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A read-only key cannot retry.
    let res = http
        .post(app.url(&format!("/api/v1/jobs/articleQueue/{}/retry", ids[0])))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
    let res = http
        .post(app.url(&format!("/api/v1/jobs/articleQueue/{}/retry", ids[0])))
        .bearer_auth(&writer)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 200);
    worker.wait_for("completed", Some(&ids[0])).await;
    let res = http
        .post(app.url(&format!("/api/v1/jobs/articleQueue/{}/retry", ids[0])))
        .bearer_auth(&writer)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 409, "a completed job is not retried");
    let res = http
        .delete(app.url(&format!("/api/v1/jobs/articleQueue/{}", ids[2])))
        .bearer_auth(&writer)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), 200);
    let res = get(format!("/api/v1/jobs/articleQueue/{}", ids[2]), &reader)
        .await
        .expect("GET");
    assert_eq!(res.status(), 404);
    let retried = app.audit("jobs.job_retried").await;
    assert_eq!(retried.len(), 1);
    assert_eq!(app.audit("jobs.job_deleted").await.len(), 1);

    // The index: search by error text and by user.
    let mut found = serde_json::Value::Null;
    for _ in 0..100 {
        found = get("/api/v1/jobs/failures?q=overloaded".into(), &reader)
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        if found["failures"].as_array().map(Vec::len) == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        found["failures"].as_array().map(Vec::len),
        Some(2),
        "{found}"
    );
    let by_user: serde_json::Value = get("/api/v1/jobs/failures?user_id=43".into(), &reader)
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(by_user["failures"][0]["message"], "Bad prompt");
    let res = get("/api/v1/jobs/failures?from=yesterday".into(), &reader)
        .await
        .expect("GET");
    assert_eq!(res.status(), 422);

    // Retry by filter: a task retries the still-failed job of the group.
    let res = http
        .post(app.url("/api/v1/jobs/articleQueue/retry"))
        .bearer_auth(&writer)
        .json(&json!({"q": "overloaded"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 202);
    let task: serde_json::Value = res.json().await.expect("json");
    let t = app
        .wait_for_task(task["task_id"].as_i64().expect("task id"))
        .await;
    assert_eq!(t.state, "succeeded", "{t:?}");
    let bulk = app.audit("jobs.bulk_retried").await;
    assert_eq!(bulk.len(), 1);
    assert!(bulk[0].2.contains("\"count\":1"), "{}", bulk[0].2);
    assert!(
        bulk[0].2.contains(&format!("articleQueue:{}", ids[1])),
        "{}",
        bulk[0].2
    );
    // It failed again (mode fail): retried once, failed twice.
    for _ in 0..50 {
        if worker
            .seen
            .iter()
            .filter(|v| v["event"] == "failed" && v["id"] == *ids[1])
            .count()
            == 2
        {
            break;
        }
        worker
            .count_within("failed", &ids[1], Duration::from_millis(200))
            .await;
    }
    assert_eq!(
        worker
            .seen
            .iter()
            .filter(|v| v["event"] == "failed" && v["id"] == *ids[1])
            .count(),
        2
    );
    worker.stop().await;
    bull.clean().await;
}

/// A stand-in for Slack's incoming webhook: keeps every text posted.
async fn slack_peer() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::routing::post;
    let got: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/services/T0/B0/x",
        post(move |body: axum::Json<serde_json::Value>| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .expect("lock")
                    .push(body["text"].as_str().unwrap_or_default().to_owned());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://127.0.0.1:{}/services/T0/B0/x", addr.port()),
        got,
    )
}

/// The settings form: only `articleQueue`'s no-worker rule on (after
/// `minutes`), the rest off, to the given targets.
fn alert_form(slack: &str, minutes: &str) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![
        ("slack_url".into(), slack.into()),
        ("emails".into(), "ops@example.test".into()),
        ("cooldown_minutes".into(), "60".into()),
        ("notify_in_app".into(), "1".into()),
    ];
    for q in ["articleQueue", "social-media-post"] {
        for (rule, threshold) in [
            ("failure_rate", "20"),
            ("failures_hour", "50"),
            ("oldest_waiting", "15"),
            ("no_worker", minutes),
        ] {
            f.push((format!("{q}.{rule}.threshold"), threshold.into()));
            if rule == "failure_rate" {
                f.push((format!("{q}.{rule}.window"), "10".into()));
                f.push((format!("{q}.{rule}.min_finished"), "20".into()));
            }
            if q == "articleQueue" && rule == "no_worker" {
                f.push((format!("{q}.{rule}.enabled"), "1".into()));
            }
        }
    }
    f
}

async fn texts_after(got: &std::sync::Arc<std::sync::Mutex<Vec<String>>>, n: usize) -> Vec<String> {
    for _ in 0..100 {
        if got.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got.lock().expect("lock").clone()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn a_breach_alerts_once_then_recovers_once() {
    let bull = Bull::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind smtp");
    let smtp_port = listener.local_addr().expect("addr").port();
    let mails: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    tokio::spawn(crate::tasks::smtp_server(listener, mails.clone()));
    let (slack, said) = slack_peer().await;
    let app = TestApp::spawn_with(Options {
        jobs: bull.config(),
        smtp: Some(format!("smtp://127.0.0.1:{smtp_port}")),
        ..Options::default()
    })
    .await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    connected(&app, &admin).await;

    // A bad webhook is refused inline and nothing is saved.
    let mut bad = alert_form("ftp://hooks.example/x", "0");
    let token = app.csrf(&admin).await;
    bad.push(("_csrf".into(), token.clone()));
    let res = admin
        .post(app.url("/admin/jobs/alerts"))
        .form(&bad)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 422);
    let html = res.text().await.expect("body");
    assert!(
        select_text(&html, "#form-error")[0].contains("https"),
        "{html}"
    );
    assert!(app.audit("jobs.alert_settings_changed").await.is_empty());

    // No worker: a breach, sent once, mailed and in the bell.
    let mut form = alert_form(&slack, "0");
    form.push(("_csrf".into(), token));
    let res = admin
        .post(app.url("/admin/jobs/alerts"))
        .form(&form)
        .send()
        .await
        .expect("POST");
    assert_eq!(location(&res), "/admin/jobs/alerts");
    assert_eq!(app.audit("jobs.alert_settings_changed").await.len(), 1);
    let texts = texts_after(&said, 1).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("articleQueue") && texts[0].contains("no worker"),
        "{texts:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        said.lock().expect("lock").len(),
        1,
        "no repeat while it lasts"
    );

    // A worker comes: one recovery.
    let worker = bull.worker("articleQueue").await;
    let texts = texts_after(&said, 2).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("online again"), "{texts:?}");

    // It goes again within the cool-down: nothing new is sent.
    worker.stop().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(said.lock().expect("lock").len(), 2, "cool-down");

    // The mails (breach and recovery), the bell, the history.
    for _ in 0..100 {
        if mails.lock().expect("lock").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = mails.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|m| m.contains("ops@example.test")));
    let html = app
        .get(&admin, "/admin/notifications")
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains("no worker online"), "{html}");
    let html = app
        .get(&admin, "/admin/jobs/alerts")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#alert-history tbody tr").len(), 2);

    // The test button reaches Slack too.
    let res = app.post_form(&admin, "/admin/jobs/alerts/test", &[]).await;
    assert_eq!(location(&res), "/admin/jobs/alerts");
    let texts = texts_after(&said, 3).await;
    assert!(texts[2].contains("Test alert"), "{texts:?}");
    bull.clean().await;
}

/// A Redis of the test's own, on its own port, that can be stopped and
/// started again with its data (append-only file).
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = std::env::temp_dir().join(format!("sowat-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut r = OwnRedis {
            port,
            dir,
            child: None,
        };
        r.up().await;
        r
    }

    async fn up(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    fn down(&mut self) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown"])
            .output();
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn with_redis_stopped_the_screens_say_so_and_the_index_catches_up() {
    let mut redis = OwnRedis::start().await;
    let bull = Bull::on(&redis.url());
    let app = app_with(&bull).await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    connected(&app, &admin).await;
    let worker = bull.worker("articleQueue").await;
    let ids = bull
        .produce(
            "articleQueue",
            json!([job(
                "generate",
                json!({"mode": "fail", "error": "before the outage"}),
                json!({})
            )]),
        )
        .await;
    assert_eq!(rows_become(&app, "job_failures", 1).await, 1);
    worker.stop().await;

    redis.down();
    for path in [
        "/admin/jobs".to_owned(),
        "/admin/jobs/articleQueue/failed".to_owned(),
        format!("/admin/jobs/articleQueue/job/{}", ids[0]),
    ] {
        let started = std::time::Instant::now();
        let res = app.get(&admin, &path).await;
        let took = started.elapsed();
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.expect("body");
        assert!(
            select_text(&html, "#jobs-problem")[0].contains("does not answer"),
            "{path}: {html}"
        );
        // Bounded (the client alone would wait tens of seconds): one
        // second in the product, with room for a loaded test machine.
        assert!(took < Duration::from_secs(3), "{path} took {took:?}");
    }
    // The index's pages do not need Redis.
    let html = app
        .get(&admin, "/admin/jobs/failures")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#failures tbody tr").len(), 1);

    redis.up().await;
    connected(&app, &admin).await;
    let worker = bull.worker("articleQueue").await;
    bull.produce(
        "articleQueue",
        json!([job(
            "generate",
            json!({"mode": "fail", "error": "after the outage"}),
            json!({})
        )]),
    )
    .await;
    for _ in 0..100 {
        if count(&app, "job_failures").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&app, "job_failures").await,
        2,
        "the follower picked up again"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn failures_whose_events_were_trimmed_are_found_in_the_failed_set() {
    let bull = Bull::new();
    let mut worker = bull.worker("articleQueue").await;
    let ids = bull
        .produce(
            "articleQueue",
            json!(
                (0..5)
                    .map(|i| job(
                        "generate",
                        json!({"mode": "fail", "error": format!("lost event {i}"), "userId": 9}),
                        json!({})
                    ))
                    .collect::<Vec<_>>()
            ),
        )
        .await;
    for id in &ids {
        worker.wait_for("failed", Some(id)).await;
    }
    worker.stop().await;
    // BullMQ trims its stream; here, before the backoffice ever read it.
    let mut conn = bull.redis().await;
    let _: i64 = redis::cmd("XTRIM")
        .arg(format!("{}:articleQueue:events", bull.prefix))
        .arg("MAXLEN")
        .arg(1)
        .query_async(&mut conn)
        .await
        .expect("XTRIM");
    let app = app_with(&bull).await;
    assert_eq!(rows_become(&app, "job_failures", 5).await, 5);
    let (admin, _) = app.client_as(Kind::Admin).await;
    let html = app
        .get(&admin, "/admin/jobs/failures?user=9")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#failures tbody tr").len(), 5);
    assert!(html.contains("lost event 3"));
    bull.clean().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Node and Redis: run by .ci/run"]
async fn bulk_actions_from_the_failures_page_run_as_a_task() {
    let bull = Bull::new();
    let app = app_with(&bull).await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    connected(&app, &admin).await;
    let mut worker = bull.worker("articleQueue").await;
    let ids = bull
        .produce(
            "articleQueue",
            json!(
                (0..3)
                    .map(|i| job(
                        "generate",
                        json!({"mode": "fail", "error": format!("Image API 503 ({i})")}),
                        json!({})
                    ))
                    .collect::<Vec<_>>()
            ),
        )
        .await;
    for id in &ids {
        worker.wait_for("failed", Some(id)).await;
    }
    eventually(
        &app,
        &admin,
        "/admin/jobs/failures?q=image",
        &format!("data-job=\"{}\"", ids[2]),
    )
    .await;
    // Every failure ever is not a filter.
    let res = app
        .post_form(
            &admin,
            "/admin/jobs/bulk",
            &[("action", "retry"), ("scope", "all")],
        )
        .await;
    assert_eq!(location(&res), "/admin/jobs/failures");
    // Delete two ticked jobs.
    let a = format!("articleQueue:{}", ids[0]);
    let b = format!("articleQueue:{}", ids[1]);
    let res = app
        .post_form(
            &admin,
            "/admin/jobs/bulk",
            &[
                ("action", "delete"),
                ("sel", &a),
                ("sel", &b),
                ("q", "image"),
            ],
        )
        .await;
    let task = crate::harness::task_of(&res);
    let t = app.wait_for_task(task).await;
    assert_eq!(t.state, "succeeded", "{t:?}");
    for (id, status) in [(&ids[0], 404), (&ids[1], 404), (&ids[2], 200)] {
        let res = app
            .get(&admin, &format!("/admin/jobs/articleQueue/job/{id}"))
            .await;
        assert_eq!(res.status(), status, "job {id}");
    }
    let audit = app.audit("jobs.bulk_deleted").await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].2.contains("\"count\":2"), "{}", audit[0].2);
    // The failures stay in the index.
    let html = app
        .get(&admin, "/admin/jobs/failures?q=image")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#failures tbody tr").len(), 3);

    // Support reads jobs and acts only once a role grants `jobs.write`.
    let (support, _) = app.client_as(Kind::Support).await;
    let retry = format!("/admin/jobs/articleQueue/job/{}/retry", ids[2]);
    assert_eq!(app.post_form(&support, &retry, &[]).await.status(), 403);
    {
        use sowat_admin::db::schema::role_permissions as rp;
        let mut db = app.db().await;
        sowat_admin::db_run!(&mut db, |c| diesel_async::RunQueryDsl::execute(
            diesel::insert_into(rp::table).values((
                diesel::ExpressionMethods::eq(rp::role_id, 2i64),
                diesel::ExpressionMethods::eq(rp::permission, "jobs.write")
            )),
            c
        )
        .await)
        .expect("grant");
    }
    app.running().state.roles.invalidate();
    let res = app.post_form(&support, &retry, &[]).await;
    assert_eq!(res.status(), 303);
    worker.wait_for("failed", Some(&ids[2])).await;
    assert_eq!(app.audit("jobs.job_retried").await.len(), 1);
    worker.stop().await;
    bull.clean().await;
}
