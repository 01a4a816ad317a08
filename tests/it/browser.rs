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
            "goog:chromeOptions": {
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
    d.click("input[name=all]").await;
    d.click("button[name=action][value=reactivate]").await;
    assert!(d.text("#bulk-question").await.starts_with("Reactivate"));
    d.type_into("input[name=reason]", "Paid at last").await;
    d.click("button[type=submit].primary").await;
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
    d.quit().await;
}
