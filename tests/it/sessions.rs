//! Database sessions: id rotation, idle and absolute expiry, server-side
//! logout, listing and ending one's own sessions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::db::schema::sessions;

use crate::harness::{Kind, Options, PASSWORD, TestApp, location, select_text};

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sowat_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn session_id_changes_at_sign_in_and_cookie_is_strict() {
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Manager).await.unwrap();
    let c = app.client();
    let page = app.get(&c, "/login").await;
    assert_eq!(
        session_cookie(&page),
        None,
        "an anonymous visit stores no session"
    );
    let res = app.login_password(&c, &user.email, PASSWORD).await;
    let after_password = session_cookie(&res).expect("a session once there is someone to remember");
    let raw = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sowat_session="))
        .unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict") && raw.contains("Path=/"),
        "{raw}"
    );
    let res = app
        .post_form(&c, "/login/totp", &[("code", &app.code(&user))])
        .await;
    let after_totp = session_cookie(&res).expect("new cookie after the second factor");
    assert_ne!(after_password, after_totp);
    // The old id no longer works.
    let stale = app
        .client()
        .get(app.url("/account/sessions"))
        .header("cookie", &after_password)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_expire() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(
        app.get(&c, "/admin").await.status(),
        StatusCode::OK,
        "activity within 30 minutes keeps it"
    );
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(app.get(&c, "/admin").await.status(), StatusCode::OK);
    app.clock.advance(time::Duration::minutes(31));
    let res = app.get(&c, "/admin").await;
    assert_eq!(
        location(&res),
        "/login?next=%2Fadmin",
        "idle for 31 minutes"
    );
}

/// A page view reads the session and writes it only when something in it
/// changed (at most once a minute for the idle clock): a write per view
/// made every page a database write.
#[tokio::test(flavor = "multi_thread")]
async fn page_views_do_not_write_the_session() {
    let app = TestApp::spawn().await;
    let (c, user) = app.client_as(Kind::Support).await;
    let user_id = user.expect("support user").id;
    let seen = || async {
        let mut db = app.db().await;
        sowat_admin::db_run!(&mut db, |conn| sessions::table
            .filter(sessions::user_id.eq(user_id))
            .select(sessions::last_seen_at)
            .first::<time::PrimitiveDateTime>(conn)
            .await)
        .expect("the session row")
    };
    app.clock.advance(time::Duration::minutes(2));
    assert_eq!(app.get(&c, "/admin/users").await.status(), StatusCode::OK);
    let touched = seen().await;
    for _ in 0..3 {
        app.clock.advance(time::Duration::seconds(10));
        assert_eq!(app.get(&c, "/admin/users").await.status(), StatusCode::OK);
    }
    assert_eq!(
        seen().await,
        touched,
        "views within the minute write nothing"
    );
    app.clock.advance(time::Duration::seconds(40));
    app.get(&c, "/admin/users").await;
    assert!(seen().await > touched, "the idle clock moves once a minute");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_after_their_absolute_lifetime() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Analyst).await;
    for _ in 0..(12 * 60 / 25) {
        app.clock.advance(time::Duration::minutes(25));
        assert_eq!(app.get(&c, "/admin").await.status(), StatusCode::OK);
    }
    app.clock.advance(time::Duration::minutes(25));
    assert_eq!(
        app.get(&c, "/admin").await.status(),
        StatusCode::SEE_OTHER,
        "over 12 hours, even when active"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_server_side() {
    let app = TestApp::spawn().await;
    let user = app.create_user("copy@example.test", &["admin"], true).await;
    let browser = app.client();
    app.login_password(&browser, &user.email, PASSWORD).await;
    let res = app
        .post_form(&browser, "/login/totp", &[("code", &app.code(&user))])
        .await;
    // The cookie as an attacker who copied it would hold it.
    let stolen = session_cookie(&res).unwrap();
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        plain
            .get(app.url("/admin"))
            .header("cookie", &stolen)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.post_form(&browser, "/logout", &[]).await;
    let after = plain
        .get(app.url("/admin"))
        .header("cookie", &stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the copied cookie is dead after logout"
    );
    assert_eq!(app.audit("auth.sign_out").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_lists_and_ends_their_sessions() {
    let app = TestApp::spawn().await;
    let user = app.create_kind(Kind::Support).await.unwrap();
    let laptop = app.client();
    app.sign_in(&laptop, &user).await;
    let phone = app.client();
    app.sign_in(&phone, &user).await;
    let page = app
        .get(&laptop, "/account/sessions")
        .await
        .text()
        .await
        .unwrap();
    let rows = select_text(&page, "#session-rows tr");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(select_text(&page, "#session-rows tr.current").len(), 1);
    // End the other one (the row that is not current), as htmx would.
    let doc = scraper::Html::parse_document(&page);
    let sel = scraper::Selector::parse("#session-rows tr:not(.current) form").unwrap();
    let action = doc
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("action")
        .unwrap()
        .to_owned();
    let token = app.csrf(&laptop).await;
    let res = laptop
        .post(app.url(&action))
        .header("hx-request", "true")
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["hx-trigger"]
            .to_str()
            .unwrap()
            .contains("Session ended")
    );
    assert_eq!(
        select_text(
            &format!("<table>{}</table>", res.text().await.unwrap()),
            "tr"
        )
        .len(),
        1
    );
    assert_eq!(
        app.get(&phone, "/account/sessions").await.status(),
        StatusCode::SEE_OTHER,
        "the phone is signed out"
    );
    assert_eq!(app.audit("session.ended").await.len(), 1);
    // Someone else's session cannot be ended.
    let (other, _) = app.client_as(Kind::Analyst).await;
    let token = app.csrf(&other).await;
    let res = other
        .post(app.url(&action))
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn under_https_the_cookie_is_host_prefixed_and_secure() {
    let app = TestApp::spawn_with(Options {
        https: true,
        ..Options::default()
    })
    .await;
    let res = app.get(&app.client(), "/login").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let cookie_named = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with(name))
    };
    let csrf_cookie = cookie_named(&res, "__Host-sowat_csrf=").expect("__Host- CSRF cookie");
    let body = res.text().await.unwrap();
    let token = crate::harness::select_attr(&body, "input[name=_csrf]", "value").expect("token");
    // The test server speaks plain http, so the client would not send a
    // Secure cookie back: send it by hand, as a browser would over https.
    let user = app.create_user("https@example.test", &[], false).await;
    let res = app
        .client()
        .post(app.url("/login"))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[
            ("email", user.email.as_str()),
            ("password", PASSWORD),
            ("_csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let raw = cookie_named(&res, "__Host-sowat_session=").expect("__Host- session cookie");
    for cookie in [&raw, &csrf_cookie] {
        for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(!cookie.contains("Domain="), "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_sessions_are_purged() {
    use sowat_admin::security::session_store::DbSessionStore;
    let app = TestApp::spawn().await;
    let (_idle, _) = app.client_as(Kind::Support).await;
    let (fresh, _) = app.client_as(Kind::Analyst).await;
    let state = &app.running().state;
    let store = DbSessionStore::new(
        state.pool.clone(),
        app.clock.clone(),
        state.config.session_idle,
        state.config.session_max,
    );
    app.clock.advance(time::Duration::minutes(20));
    assert_eq!(app.get(&fresh, "/admin").await.status(), StatusCode::OK);
    app.clock.advance(time::Duration::minutes(15));
    let purged = store.purge_expired().await.unwrap();
    assert!(purged >= 1, "the idle session is purged");
    assert_eq!(
        app.get(&fresh, "/admin").await.status(),
        StatusCode::OK,
        "the active one stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_session_is_dropped_not_an_outage() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::sessions;
    let app = TestApp::spawn().await;
    let (c, user) = app.client_as(Kind::Support).await;
    let user = user.unwrap();
    let mut db = app.db().await;
    sowat_admin::db_run!(&mut db, |conn| diesel::update(
        sessions::table.filter(sessions::user_id.eq(user.id))
    )
    .set(sessions::data.eq("{not json"))
    .execute(conn)
    .await)
    .unwrap();
    let res = app.get(&c, "/admin").await;
    assert_eq!(location(&res), "/login?next=%2Fadmin");
    assert_eq!(
        app.get(&c, "/login").await.status(),
        StatusCode::OK,
        "a fresh session works"
    );
}

/// Staff see every live session, filter them, and end one, all of a user,
/// or all but their own; the end holds on every instance.
#[tokio::test(flavor = "multi_thread")]
async fn staff_end_sessions_everywhere() {
    let app = TestApp::spawn().await;
    let other = app.second_instance().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    let agent = app
        .create_user("agent@sessions.test", &["support"], true)
        .await;
    let (first, second) = (app.client(), app.client());
    app.sign_in(&first, &agent).await;
    // Two sign-ins in the same TOTP step are refused: wait for the next.
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    app.sign_in(&second, &agent).await;
    let html = app
        .get(&admin, "/admin/sessions?role=support")
        .await
        .text()
        .await
        .expect("body");
    let handles: Vec<String> =
        crate::harness::select_attrs(&html, "#staff-sessions tr[data-handle]", "data-handle");
    assert_eq!(handles.len(), 2, "{html}");
    let html = app
        .get(&admin, &format!("/admin/sessions?user=%23{}", agent.id))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#staff-sessions tbody tr").len(), 2);
    let html = app
        .get(&admin, "/admin/sessions?ip=10.99.")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#no-sessions").len(), 1);

    // One ended: that browser is out on the other instance too.
    let res = app
        .post_form(&admin, &format!("/admin/sessions/{}/end", handles[0]), &[])
        .await;
    assert_eq!(location(&res), "/admin/sessions");
    let at_other = |c: &reqwest::Client| c.get(format!("http://{}/admin", other.addr)).send();
    let (a, b) = (
        at_other(&first).await.expect("GET"),
        at_other(&second).await.expect("GET"),
    );
    let outs = [&a, &b]
        .iter()
        .filter(|r| location(r).starts_with("/login"))
        .count();
    assert_eq!(outs, 1, "exactly the ended one is signed out");

    // All of the user's: both out. The user page has the section.
    let html = app
        .get(&admin, &format!("/admin/users/{}/sessions", agent.id))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(select_text(&html, "#section-sessions tbody tr").len(), 1);
    let res = app
        .post_form(
            &admin,
            &format!("/admin/users/{}/sessions/end", agent.id),
            &[],
        )
        .await;
    assert_eq!(location(&res), format!("/admin/users/{}", agent.id));
    for c in [&first, &second] {
        assert!(location(&at_other(c).await.expect("GET")).starts_with("/login"));
    }
    // All but mine: the admin stays.
    let res = app
        .post_form(&admin, "/admin/sessions/others/end", &[])
        .await;
    assert_eq!(location(&res), "/admin/sessions");
    assert_eq!(
        app.get(&admin, "/admin/sessions").await.status(),
        StatusCode::OK
    );
    let ended = app.audit("session.ended").await;
    assert_eq!(ended.len(), 3, "{ended:?}");
    assert!(
        ended
            .iter()
            .all(|(_, actor, d)| actor.contains("admin") || d.contains("by_staff"))
    );
    other.stop().await;
}
