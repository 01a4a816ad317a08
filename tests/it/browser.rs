//! A real browser (headless Chromium driven over WebDriver) walks the
//! first-admin setup, TOTP enrollment with the secret shown on the page,
//! sign-out and sign-in. Needs Debian's `chromium` and `chromium-driver`;
//! `.ci/run` installs them and runs this with `--ignored`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sowat_admin::security::totp;

use crate::harness::{PASSWORD, TestApp};

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The browser is chromedriver's child: end it first, or it outlives the test.
        let _ = Command::new("pkill")
            .args(["-TERM", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        Driver::start_sized(1440, 900).await
    }

    /// A browser whose viewport is `width` × `height` CSS pixels.
    async fn start_sized(width: u32, height: u32) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install Debian's chromium and chromium-driver")
            });
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..50 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("sowat-chrome-{}", uuid::Uuid::new_v4().simple()));
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "mobileEmulation": { "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1 } },
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_owned();
        Driver {
            child,
            base,
            session,
            http,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    /// Closes the browser (the session's end).
    async fn quit(&self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            let v = self
                .cmd(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            if let Some(id) = v
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|v| v.as_str())
            {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} on {}", self.current_url().await);
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The element's visible text, waiting while the page is still loading.
    async fn text(&self, css: &str) -> String {
        for _ in 0..50 {
            let id = self.find(css).await;
            let v = self
                .cmd(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await;
            match v.as_str() {
                Some(t) if !t.trim().is_empty() => return t.to_owned(),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        String::new()
    }

    /// Errors the page wrote to the console (scripts, CSP violations,
    /// failed loads) since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let logs = self
            .cmd(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Runs `script` in the page and returns its result.
    async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Waits until `script` (an expression) is true in the page.
    async fn wait_until(&self, script: &str) {
        for _ in 0..100 {
            if self.js(&format!("return !!({script});")).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never true: {script} (at {})", self.current_url().await);
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn wait_for_path(&self, base: &str, path: &str) {
        for _ in 0..150 {
            if self.current_url().await == format!("{base}{path}") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let source = self.cmd(reqwest::Method::GET, "/source", None).await;
        let errors =
            crate::harness::select_text(source.as_str().unwrap_or_default(), ".form-error");
        panic!(
            "expected {path}, at {} (errors on the page: {errors:?})",
            self.current_url().await
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium + chromedriver; .ci/run installs them and runs it"]
async fn browser_setup_enroll_sign_out_sign_in() {
    let app = TestApp::spawn().await;
    let link = app.running().setup_link.clone().unwrap();
    let d = Driver::start().await;

    d.goto(&link).await;
    d.type_into("input[name=email]", "ada@sowat.io").await;
    d.type_into("input[name=name]", "Ada Admin").await;
    d.type_into("input[name=password]", PASSWORD).await;
    d.type_into("input[name=confirm]", PASSWORD).await;
    d.click("button[type=submit].primary").await;
    d.wait_for_path(&app.base, "/account/totp").await;

    let secret_text = d.text("#totp-secret").await;
    let secret = totp_rs::Secret::try_from_base32(secret_text.trim())
        .unwrap()
        .as_bytes()
        .to_vec();
    let t = totp::build(&secret, "ada@sowat.io").unwrap();
    d.type_into("input[name=code]", &totp::code_at(&t, app.clock.unix()))
        .await;
    d.click("button[type=submit].primary").await;
    let codes = d.text("#recovery-codes").await;
    assert_eq!(
        codes.lines().filter(|l| !l.trim().is_empty()).count(),
        10,
        "{codes}"
    );
    d.click("#recovery-done").await;
    d.wait_for_path(&app.base, "/admin").await;
    assert!(d.text("h1").await.contains("Dashboard"));

    d.click("form[action='/logout'] button").await;
    d.wait_for_path(&app.base, "/login?notice=signed_out").await;
    assert!(d.text("#login-notice").await.contains("signed out"));
    d.goto(&app.url("/admin")).await;
    d.wait_for_path(&app.base, "/login?next=%2Fadmin").await;

    d.type_into("input[name=email]", "ada@sowat.io").await;
    d.type_into("input[name=password]", PASSWORD).await;
    d.click("button[type=submit].primary").await;
    d.wait_for_path(&app.base, "/login/totp?next=%2Fadmin")
        .await;
    // A new step: the enrollment code's step cannot be used again.
    app.clock.advance(time::Duration::seconds(30));
    d.type_into("input[name=code]", &totp::code_at(&t, app.clock.unix()))
        .await;
    d.click("button[type=submit].primary").await;
    d.wait_for_path(&app.base, "/admin").await;
    assert!(d.text(".whoami .who").await.contains("Ada Admin"));

    // A bulk suspend of every matching user runs as a task whose progress
    // the page follows live (htmx polling under the strict CSP).
    let state = app.running().state.clone();
    sowat_admin::seed::users(&state.pool, &app.clock, 1_500, None)
        .await
        .unwrap();
    d.goto(&app.url("/admin/users?status=SUSPENDED")).await;
    // A row selected shows the selection bar, where "all matching" is.
    d.click("#user-rows input[name=ids]").await;
    d.click("input[name=all]").await;
    d.click("button[name=action][value=reactivate]").await;
    assert!(
        d.text("dialog #bulk-question")
            .await
            .starts_with("Reactivate")
    );
    d.type_into("dialog input[name=reason]", "Paid at last")
        .await;
    d.click("dialog button[type=submit].primary").await;
    for _ in 0..300 {
        if d.current_url().await.contains("/admin/tasks/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.find("#task-progress progress").await;
    d.find("#task-progress[data-state=succeeded]").await;
    assert!(d.text("#task-progress .notice").await.contains("Finished"));
    d.goto(&app.url("/admin/tasks")).await;
    assert!(d.text("#task-table tbody").await.contains("Status change"));
    assert_eq!(d.console_errors().await, Vec::<String>::new());
    d.quit().await;
}

/// The daily path of a support day, on a desktop and on a phone: filter,
/// sort by a header, select rows, suspend them through the modal, open a
/// user, change their status and see the header, the badge and the history
/// agree; any console error (a script failing, a CSP violation) fails it.
async fn daily_path(width: u32, height: u32) {
    let app = TestApp::spawn().await;
    let admin = app.create_user("dana@sowat.io", &["admin"], true).await;
    let state = app.running().state.clone();
    sowat_admin::seed::users(&state.pool, &app.clock, 120, None)
        .await
        .unwrap();
    let d = Driver::start_sized(width, height).await;
    d.goto(&app.url("/login")).await;
    d.type_into("input[name=email]", &admin.email).await;
    d.type_into("input[name=password]", &admin.password).await;
    d.click("button[type=submit].primary").await;
    d.wait_for_path(&app.base, "/login/totp?next=%2F").await;
    app.clock.advance(time::Duration::seconds(30));
    d.type_into("input[name=code]", &app.code(&admin)).await;
    d.click("button[type=submit].primary").await;
    d.wait_until("location.pathname === '/admin'").await;

    // On a phone the navigation is a menu.
    if width < 800 {
        d.click("[data-nav-toggle]").await;
    }
    d.click("#sidenav a[href='/admin/users']").await;
    d.wait_for_path(&app.base, "/admin/users").await;
    // Filter: active users only; the URL keeps only what is set. On a
    // phone the filters other than the search box are folded first.
    if width < 600 {
        d.click("[data-toggle-filters]").await;
    }
    d.click("select[name=status] option[value=ACTIVE]").await;
    d.wait_until("location.search === '?status=ACTIVE'").await;
    // Sort by the name header, then reverse it.
    d.click("th.col-name a.sort").await;
    d.wait_until("document.querySelector('th.col-name[aria-sort=ascending]')")
        .await;
    d.click("th.col-name a.sort").await;
    d.wait_until("document.querySelector('th.col-name[aria-sort=descending]')")
        .await;
    assert!(d.current_url().await.ends_with("status=ACTIVE&sort=-name"));
    // Select two rows: the selection bar appears with the count.
    d.wait_until("document.querySelector('[data-selection-bar]').hidden")
        .await;
    let first = d
        .js("return document.querySelector('#user-rows tr[data-id] td.col-name a').textContent")
        .await;
    d.js("document.querySelectorAll('#user-rows input[name=ids]').forEach((b, i) => { if (i < 2) b.click(); })")
        .await;
    assert_eq!(d.text("[data-selected-count]").await, "2 selected");
    // Suspend them through the modal.
    d.click("[data-selection-bar] button[value=suspend]").await;
    assert_eq!(d.text("dialog #bulk-question").await, "Suspend 2 users?");
    d.type_into("dialog input[name=reason]", "Chargeback").await;
    d.click("dialog button[type=submit].primary").await;
    d.wait_until("document.getElementById('flash')").await;
    assert!(d.text("#flash").await.starts_with("2 users suspended."));

    // Open the first user (now suspended) and reactivate them.
    d.goto(&app.url("/admin/users?status=SUSPENDED&sort=-name"))
        .await;
    d.wait_until(&format!(
        "[...document.querySelectorAll('#user-rows td.col-name a')].some(a => a.textContent === {first})"
    ))
    .await;
    d.js(&format!(
        "[...document.querySelectorAll('#user-rows td.col-name a')].find(a => a.textContent === {first}).click()"
    ))
    .await;
    d.wait_until("document.getElementById('header-status')")
        .await;
    assert_eq!(d.text("#header-status").await, "Suspended");
    d.click("#section-status select[name=status] option[value=ACTIVE]")
        .await;
    d.type_into(
        "#section-status input[name=reason]",
        "Resolved with the bank",
    )
    .await;
    d.click("#section-status button[type=submit]").await;
    // Header, status card and history agree, without a reload.
    d.wait_until("document.getElementById('header-status').textContent === 'Active'")
        .await;
    assert_eq!(d.text("#section-status .status").await, "Active");
    let latest = d.text("#section-changes tbody tr").await;
    assert!(latest.contains("Status changed"), "{latest}");
    assert!(latest.contains("Resolved with the bank"), "{latest}");

    // Past the admin-mode window a role grant asks for a code in a dialog
    // over the page, then goes through as clicked.
    app.clock.advance(time::Duration::minutes(11));
    d.click("#section-roles li[data-role=support] button[value=grant]")
        .await;
    d.wait_until("document.querySelector('dialog[open] #step-up-form')")
        .await;
    // The lapsed admin mode left the header with the prompt.
    assert_eq!(
        d.js("return document.getElementById('admin-mode')").await,
        Value::Null
    );
    app.clock.advance(time::Duration::seconds(30));
    d.type_into("dialog input[name=_step_up_code]", &app.code(&admin))
        .await;
    d.click("#step-up-confirm").await;
    d.wait_until("document.querySelector('#section-roles li[data-role=support] .badge')")
        .await;
    assert!(d.text("#admin-mode").await.starts_with("Admin mode until"));
    assert_eq!(d.console_errors().await, Vec::<String>::new());
    d.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium + chromedriver; .ci/run installs them and runs it"]
async fn browser_daily_path_on_a_desktop() {
    daily_path(1440, 900).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium + chromedriver; .ci/run installs them and runs it"]
async fn browser_daily_path_on_a_phone() {
    daily_path(390, 844).await;
}
