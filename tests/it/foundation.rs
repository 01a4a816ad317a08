//! Start-up, migrations, probes, static assets, error pages, request ids,
//! language negotiation, configuration errors.

use std::process::Command;

use reqwest::StatusCode;

use crate::harness::{TestApp, select_attr, select_text};

#[tokio::test(flavor = "multi_thread")]
async fn starts_and_answers_probes() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let res = app.get(&c, "/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(res.text().await.unwrap(), "ok\n");
    let res = app.get(&c, "/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_idempotent() {
    let app = TestApp::spawn().await;
    let pool = &app.running().state.pool;
    assert_eq!(
        sowat_admin::db::migrate::run(pool).await.unwrap(),
        0,
        "second run applies nothing"
    );
    assert_eq!(
        sowat_admin::db::migrate::run(pool).await.unwrap(),
        0,
        "third run applies nothing"
    );
}

#[test]
fn both_engines_have_the_same_migrations() {
    let list = |engine: &str| {
        let mut names: Vec<String> = std::fs::read_dir(format!(
            "{}/migrations/{engine}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
        names.sort();
        names
    };
    assert!(!list("sqlite").is_empty());
    assert_eq!(list("sqlite"), list("postgres"));
}

#[tokio::test(flavor = "multi_thread")]
async fn static_assets_are_cached_by_content_hash() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let page = app.get(&c, "/login").await.text().await.unwrap();
    let css = select_attr(&page, "link[rel=stylesheet]", "href").expect("stylesheet link");
    assert!(css.starts_with("/static/app.css?v="), "{css}");
    let res = app.get(&c, &css).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    // Without the hash: revalidate by ETag.
    let res = app.get(&c, "/static/app.css").await;
    assert_eq!(res.headers()["cache-control"], "public, no-cache");
    let res = c
        .get(app.url("/static/app.css"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let htmx = select_attr(&page, "script[src^='/static/htmx']", "src").expect("htmx script");
    assert_eq!(app.get(&c, &htmx).await.status(), StatusCode::OK);
    assert_eq!(
        app.get(&c, "/static/nope.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_page_is_a_404_page_with_request_id() {
    let app = TestApp::spawn().await;
    let res = app.get(&app.client(), "/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert_eq!(select_text(&body, "h1"), vec!["Page not found"]);
    assert_eq!(select_text(&body, "#request-id"), vec![id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let c = app.client();
    for path in ["/healthz", "/login", "/static/app.css", "/nope", "/admin"] {
        let res = app.get(&c, path).await;
        let id = res
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{path} has no request id"));
        assert!(id.len() >= 8);
    }
    let kept = c
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-1234abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-1234abcd");
    let replaced = c
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\u{7f}")
        .send()
        .await;
    if let Ok(r) = replaced {
        assert_ne!(r.headers()["x-request-id"], "bad id");
    }
    let replaced = c
        .get(app.url("/healthz"))
        .header("x-request-id", "x;y")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "x;y");
}

#[tokio::test(flavor = "multi_thread")]
async fn language_follows_cookie_then_accept_language_then_english() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let title = |body: &str| select_text(body, "h1").join("");
    let body = app.get(&c, "/login").await.text().await.unwrap();
    assert_eq!(title(&body), "Sign in");
    let body = c
        .get(app.url("/login"))
        .header("accept-language", "de-DE,fr;q=0.8,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title(&body), "Connexion");
    assert_eq!(select_attr(&body, "html", "lang").as_deref(), Some("fr"));
    let body = c
        .get(app.url("/login"))
        .header("accept-language", "fr")
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title(&body), "Sign in");
    // The switch in the footer sets the cookie.
    let res = app
        .post_form(&c, "/lang", &[("lang", "fr"), ("next", "/login")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("lang=fr")
    );
    let body = app.get(&c, "/login").await.text().await.unwrap();
    assert_eq!(title(&body), "Connexion");
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sowat-admin"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SOWAT_")) {
        cmd.env_remove(k);
    }
    cmd
}

fn run_fails_with(args: &[&str], setting: &str) {
    let dir = std::env::temp_dir().join(format!("sowat-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = binary().current_dir(&dir).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(setting),
        "{args:?} names {setting}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr
            .trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_configuration_stops_with_one_clear_line() {
    run_fails_with(
        &["--database-url", "mysql://x@y/z", "migrate"],
        "SOWAT_DATABASE_URL",
    );
    run_fails_with(
        &["--database-url", "sqlite://", "migrate"],
        "SOWAT_DATABASE_URL",
    );
    run_fails_with(
        &["--database-url", "postgres://", "migrate"],
        "SOWAT_DATABASE_URL",
    );
    run_fails_with(&["--listen", "not-an-address"], "SOWAT_LISTEN");
    run_fails_with(&["--public-url", "ftp://x"], "SOWAT_PUBLIC_URL");
    run_fails_with(
        &[
            "--data-dir",
            "/proc/forbidden",
            "--database-url",
            "sqlite://db.sqlite",
        ],
        "SOWAT_DATA_DIR",
    );
}

#[test]
fn port_in_use_is_a_configuration_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    run_fails_with(
        &[
            "--listen",
            &addr,
            "--database-url",
            "sqlite://db.sqlite",
            "--data-dir",
            "data",
        ],
        "SOWAT_LISTEN",
    );
}

#[test]
fn migrate_sub_command_applies_then_finds_nothing() {
    let dir = std::env::temp_dir().join(format!("sowat-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = binary().current_dir(&dir).arg("migrate").output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let folders = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert!(
        String::from_utf8_lossy(&first.stdout).contains(&format!("migrations applied: {folders}"))
    );
    assert!(
        dir.join("data/sowat-admin.db").exists(),
        "default SQLite file in ./data"
    );
    let second = binary().current_dir(&dir).arg("migrate").output().unwrap();
    assert!(String::from_utf8_lossy(&second.stdout).contains("migrations applied: 0"));
    let help = binary().args(["migrate", "--help"]).output().unwrap();
    assert!(help.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// PostgreSQL only (CI runs the suite on both engines): connections killed
/// by the server are replaced when checked out, so requests keep working.
#[tokio::test(flavor = "multi_thread")]
async fn lost_database_connections_are_replaced() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let app = TestApp::spawn().await;
    let c = app.client();
    assert_eq!(app.get(&c, "/readyz").await.status(), StatusCode::OK);
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!(
            "lost_database_connections_are_replaced: SQLite has no server connection to lose; runs with TEST_DATABASE_URL"
        );
        return;
    };
    let db_name = match &app.running().state.config.backend {
        sowat_admin::config::Backend::Postgres(url) => url.rsplit('/').next().unwrap().to_owned(),
        sowat_admin::config::Backend::Sqlite(_) => unreachable!(),
    };
    let mut admin = AsyncPgConnection::establish(&admin_url).await.unwrap();
    admin
        .batch_execute(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"))
        .await
        .unwrap();
    // As after a restart: the old backends are gone before clients return.
    // (The pool recycles cheaply, without a test query: a connection is
    // dropped once its socket is seen closed, not probed on every checkout.)
    #[derive(diesel::QueryableByName)]
    struct Left {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    for _ in 0..100 {
        let left: Left = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(format!("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{db_name}' AND pid <> pg_backend_pid()")),
            &mut admin,
        )
        .await
        .unwrap();
        if left.n == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for _ in 0..5 {
        assert_eq!(app.get(&c, "/readyz").await.status(), StatusCode::OK);
        assert_eq!(app.get(&c, "/login").await.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_actor_carries_roles_and_every_membership() {
    use sowat_admin::db::types::WorkspaceRole;
    let app = TestApp::spawn().await;
    let user = app
        .create_user("multi@example.test", &["support", "analyst"], true)
        .await;
    app.add_member(&user, "alpha", WorkspaceRole::Manager).await;
    app.add_member(&user, "beta", WorkspaceRole::Member).await;
    let state = &app.running().state;
    let mut db = app.db().await;
    let actor = state.actor(&mut db, user.id).await.unwrap().unwrap();
    let mut roles: Vec<&str> = actor
        .platform_roles
        .iter()
        .map(|r| r.key.as_str())
        .collect();
    roles.sort();
    assert_eq!(roles, vec!["analyst", "support"]);
    let mut members: Vec<WorkspaceRole> = actor.memberships.values().map(|m| m.role).collect();
    members.sort_by_key(|r| r.as_str());
    assert_eq!(members, vec![WorkspaceRole::Manager, WorkspaceRole::Member]);
    assert!(
        actor
            .memberships
            .values()
            .all(|m| !m.permissions.is_empty())
    );
    // No membership at all is an empty map, not an error.
    let lone = app
        .create_user("lone@example.test", &["support"], true)
        .await;
    let actor = state.actor(&mut db, lone.id).await.unwrap().unwrap();
    assert!(actor.memberships.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_with_another_secret_key_refuses_to_start() {
    let app = TestApp::spawn().await;
    let mut config = (*app.running().state.config).clone();
    // Another data dir: another generated key, as on a second machine.
    let dir = std::env::temp_dir().join(format!("sowat-second-{}", uuid::Uuid::new_v4().simple()));
    config.data_dir = dir.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let refused = sowat_admin::start(config.clone(), app.clock.clone()).await;
    match refused {
        Err(sowat_admin::StartError::Config(e)) if e.setting != "SOWAT_SECRET_KEY" => {
            panic!("refused for another reason: {}: {}", e.setting, e.message)
        }
        Err(sowat_admin::StartError::Config(e)) => {
            assert_eq!(e.setting, "SOWAT_SECRET_KEY");
            assert!(e.message.contains("same key"), "{}", e.message);
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("started with a key the database was not sealed with"),
    }
    // With the first instance's key it starts.
    let key =
        std::fs::read_to_string(app.running().state.config.data_dir.join("secret.key")).unwrap();
    config.secret_key = Some(sowat_admin::config::SecretKey(key.trim().to_owned()));
    let second = sowat_admin::start(config, app.clock.clone())
        .await
        .expect("same key: starts");
    second.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_secret_key_reseals_every_totp_secret() {
    use base64::Engine;
    use sowat_admin::security::crypto::SecretBox;
    let app = TestApp::spawn().await;
    let user = app
        .create_user("sealed@example.test", &["support"], true)
        .await;
    let state = &app.running().state;
    let old_key = std::fs::read_to_string(state.config.data_dir.join("secret.key")).unwrap();
    let new_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let rotating = SecretBox::load(Some(&new_key), &state.config.data_dir)
        .unwrap()
        .with_previous(Some(old_key.trim()))
        .unwrap();
    sowat_admin::security::secret_key::check(&state.pool, &rotating)
        .await
        .expect("the previous key is accepted during a rotation");
    let resealed = sowat_admin::security::secret_key::rotate(&state.pool, &rotating, &app.clock)
        .await
        .expect("rotation");
    assert!(
        resealed >= 2,
        "the user's TOTP secret and the setup link: {resealed}"
    );
    // The new key alone now opens everything, and is the one on record.
    let new_only = SecretBox::load(Some(&new_key), &state.config.data_dir).unwrap();
    let mut db = app.db().await;
    let sealed: Option<String> = sowat_admin::db_run!(&mut db, |c| {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        sowat_admin::db::schema::users::table
            .find(user.id)
            .select(sowat_admin::db::schema::users::totp_secret)
            .first(c)
            .await
    })
    .unwrap();
    assert_eq!(
        new_only.decrypt(&sealed.unwrap()).unwrap(),
        user.totp_secret.clone().unwrap()
    );
    drop(db);
    sowat_admin::security::secret_key::check(&state.pool, &new_only)
        .await
        .expect("new key on record");
    let old_only = SecretBox::load(Some(old_key.trim()), &state.config.data_dir).unwrap();
    assert!(
        sowat_admin::security::secret_key::check(&state.pool, &old_only)
            .await
            .is_err(),
        "the old key is refused after the rotation"
    );
    assert_eq!(app.audit("system.secret_key_rotated").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_to_roles_reaches_the_cache_within_a_second() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::{role_permissions, roles};
    let app = TestApp::spawn().await;
    let (support, _) = app.client_as(crate::harness::Kind::Support).await;
    assert_eq!(
        app.get(&support, "/admin/users").await.status(),
        StatusCode::OK
    );
    // What a custom-role edit will do: change a grant and bump the version,
    // in one transaction (here on another connection, as another instance).
    let mut db = app.db().await;
    db.transaction(|tx| {
        Box::pin(async move {
            let support_role: i64 = sowat_admin::db_run!(tx, |c| roles::table
                .filter(roles::key.eq("support"))
                .select(roles::id)
                .first(c)
                .await)?;
            sowat_admin::db_run!(tx, |c| diesel::delete(
                role_permissions::table
                    .filter(role_permissions::role_id.eq(support_role))
                    .filter(role_permissions::permission.eq("users.read"))
            )
            .execute(c)
            .await)?;
            sowat_admin::access::role_cache::roles_changed(tx).await
        })
    })
    .await
    .expect("role change");
    drop(db);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(
        app.get(&support, "/admin/users").await.status(),
        StatusCode::FORBIDDEN,
        "the kept grants were dropped when the version moved"
    );
}
