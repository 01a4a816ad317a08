//! Hostile input over every route: path segments, query parameters and form
//! fields carrying NUL and other control characters, invalid UTF-8, broken
//! escapes, huge numbers, markup and duplicates. Whatever the route, the
//! answer is never a 5xx nor a bare framework message, and a refused request
//! changes nothing.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, StatusCode};
use sowat_admin::routes;

use crate::harness::{Kind, TestApp};

/// Raw (already escaped) values, used as they are in a query or a form body.
const VALUES: &[&str] = &[
    "%00",
    "a%00b",
    "%0D%0ASet-Cookie:%20x=1",
    "%1B%5B31m",
    "%FF%FE",
    "%zz",
    "%",
    "-1",
    "99999999999999999999",
    "%27%3B%20DROP%20TABLE%20users%3B--",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%2F%09%2Fevil.example",
    "%E2%80%AE",
    "=1%2B1",
    "",
];

/// Path segments put where a route takes a parameter.
const SEGMENTS: &[&str] = &[
    "%00",
    "%FF",
    "-1",
    "99999999999999999999",
    "abc",
    "..%2F..%2Fetc",
    "%0A",
    "1%00",
];

/// Every field and parameter name the product reads.
const NAMES: &[&str] = &[
    "q",
    "status",
    "type",
    "role",
    "sort",
    "dir",
    "after",
    "before",
    "size",
    "next",
    "created_from",
    "created_to",
    "action",
    "outcome",
    "lang",
    "email",
    "name",
    "company",
    "user_type",
    "reason",
    "grant",
    "body",
    "password",
    "confirm",
    "code",
    "ids",
    "all",
    "typed_email",
    "roles",
];

fn with_all(value: &str) -> String {
    NAMES
        .iter()
        .map(|n| format!("{n}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a refused request must not have changed.
async fn snapshot(app: &TestApp) -> String {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sowat_admin::db::schema::{comments, one_time_tokens, user_roles, users};
    let mut db = app.db().await;
    let people: Vec<(
        i64,
        String,
        String,
        String,
        String,
        Option<time::PrimitiveDateTime>,
    )> = sowat_admin::db_run!(&mut db, |c| users::table
        .order(users::id)
        .select((
            users::id,
            users::email,
            users::name,
            users::company,
            users::status,
            users::deleted_at
        ))
        .load(c)
        .await)
    .expect("users");
    let grants: i64 =
        sowat_admin::db_run!(&mut db, |c| user_roles::table.count().get_result(c).await)
            .expect("grants");
    let notes: i64 = sowat_admin::db_run!(&mut db, |c| comments::table.count().get_result(c).await)
        .expect("notes");
    let links: i64 = sowat_admin::db_run!(&mut db, |c| one_time_tokens::table
        .count()
        .get_result(c)
        .await)
    .expect("links");
    format!("{people:?} {grants} {notes} {links}")
}

struct Probe<'a> {
    app: &'a TestApp,
    client: &'a Client,
    token: String,
    failures: Vec<String>,
}

impl Probe<'_> {
    async fn send(&mut self, method: &Method, url: &str, body: Option<(&str, String)>) {
        let before = snapshot(self.app).await;
        let mut req = self
            .client
            .request(method.clone(), self.app.url(url))
            .header("x-csrf-token", &self.token);
        if let Some((content_type, body)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(body);
        }
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.failures
                    .push(format!("{method} {url}: no answer ({e})"));
                return;
            }
        };
        let status = res.status();
        let content_type = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let request_id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.text().await.unwrap_or_default();
        if status.is_server_error() {
            self.failures.push(format!("{method} {url}: {status}"));
        }
        if status.is_client_error() || status.is_server_error() {
            let shaped = content_type.starts_with("text/html")
                || content_type.starts_with("application/json");
            if !shaped || (content_type.starts_with("text/html") && !text.contains(&request_id)) {
                self.failures.push(format!(
                    "{method} {url}: {status} answered as {content_type:?}: {:.80}",
                    text
                ));
            }
            if snapshot(self.app).await != before {
                self.failures.push(format!(
                    "{method} {url}: refused ({status}) but data changed"
                ));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_route_answers_hostile_input_with_a_5xx_or_a_raw_message() {
    let app = TestApp::spawn().await;
    let (client, _) = app.client_as(Kind::Admin).await;
    let victim = app.create_user("victim@example.test", &[], false).await;
    let token = app.csrf(&client).await;
    let mut probe = Probe {
        app: &app,
        client: &client,
        token: token.clone(),
        failures: Vec::new(),
    };
    // Signing out would end the probe's own session.
    let table: Vec<_> = routes::table()
        .into_iter()
        .filter(|r| r.path != "/logout")
        .collect();
    for route in &table {
        let real = route
            .path
            .replace("{*name}", "app.css")
            .replace("{token}", "not-a-token")
            .replace("{handle}", "0000")
            .replace("{id}", &victim.id.to_string());
        // Hostile path segments.
        if route.path.contains('{') {
            for seg in SEGMENTS {
                let url = route
                    .path
                    .replace("{*name}", seg)
                    .replace("{token}", seg)
                    .replace("{handle}", seg)
                    .replace("{id}", seg);
                probe.send(&route.method, &url, None).await;
            }
        }
        for value in VALUES {
            if route.method == Method::GET {
                probe
                    .send(&route.method, &format!("{real}?{}", with_all(value)), None)
                    .await;
            } else {
                let body = format!("{}&_csrf={token}", with_all(value));
                probe
                    .send(
                        &route.method,
                        &real,
                        Some(("application/x-www-form-urlencoded", body)),
                    )
                    .await;
            }
        }
        // Duplicate fields, a body that is not what it says, a wrong type.
        if route.method == Method::GET {
            probe
                .send(
                    &route.method,
                    &format!("{real}?status=ACTIVE&status=SUSPENDED&sort=name&sort=x"),
                    None,
                )
                .await;
        } else {
            let dup = format!("status=ACTIVE&status=SUSPENDED&email=a&email=b&_csrf={token}");
            probe
                .send(
                    &route.method,
                    &real,
                    Some(("application/x-www-form-urlencoded", dup)),
                )
                .await;
            probe
                .send(
                    &route.method,
                    &real,
                    Some(("application/json", "{\"email\": \"a\\u0000b\"}".into())),
                )
                .await;
            probe
                .send(
                    &route.method,
                    &real,
                    Some(("text/plain", "\u{0}\u{1}garbage".into())),
                )
                .await;
        }
    }
    assert!(
        probe.failures.is_empty(),
        "{} failures:\n{}",
        probe.failures.len(),
        probe.failures.join("\n")
    );
    // The probe's session survived: nothing above signed the admin out.
    assert_eq!(app.get(&client, "/admin").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_targets_with_control_characters_go_home() {
    let app = TestApp::spawn().await;
    let user = app.create_user("plain@example.test", &[], false).await;
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "//evil.example",
    ] {
        let c = app.client();
        let res = app
            .post_form(
                &c,
                "/login",
                &[
                    ("email", &user.email),
                    ("password", &user.password),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(
            crate::harness::location(&res),
            "/",
            "sign-in with next={next:?}"
        );
        let res = app
            .post_form(&c, "/lang", &[("lang", "fr"), ("next", next)])
            .await;
        assert_eq!(
            crate::harness::location(&res),
            "/",
            "language switch with next={next:?}"
        );
    }
}
