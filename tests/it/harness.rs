//! `TestApp::spawn()` and the helpers tests share: users of every kind,
//! signed-in clients carrying the CSRF token, page parsing with selectors.

use std::net::TcpListener;
use std::path::PathBuf;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use reqwest::{Client, Response, StatusCode, redirect};
use scraper::{Html, Selector};
use sowat_admin::clock::Clock;
use sowat_admin::config::{Backend, Config};
use sowat_admin::db::schema::{users, workspace_members, workspaces};
use sowat_admin::db::types::{UserStatus, UserType, WorkspaceRole};
use sowat_admin::security::{password, store, totp};
use sowat_admin::user_record::model::NewUser;
use sowat_admin::{Running, db_run, start};

pub const PASSWORD: &str = "violet-tram-harbour-42";

/// The kinds of actor the access rules distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Admin,
    Support,
    Tester,
    Analyst,
    Manager,
    Member,
    Anonymous,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Admin,
        Kind::Support,
        Kind::Tester,
        Kind::Analyst,
        Kind::Manager,
        Kind::Member,
        Kind::Anonymous,
    ];

    fn platform_role(self) -> Option<&'static str> {
        match self {
            Kind::Admin => Some("admin"),
            Kind::Support => Some("support"),
            Kind::Tester => Some("tester"),
            Kind::Analyst => Some("analyst"),
            _ => None,
        }
    }
}

/// A user created directly in the database for a test.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub totp_secret: Option<Vec<u8>>,
}

pub struct TestApp {
    pub running: Option<Running>,
    config: Config,
    pub base: String,
    pub clock: Clock,
    dir: PathBuf,
    pg_drop: Option<(String, String)>,
}

pub struct Options {
    pub login_attempts_per_minute: u32,
    /// Configure an https public URL (cookies and headers only: the test
    /// server itself still speaks plain http).
    pub https: bool,
    /// `SOWAT_SMTP_URL` (mail goes to the log when unset).
    pub smtp: Option<String>,
    /// Stripe's settings (not configured by default).
    pub stripe: sowat_admin::config::StripeConfig,
    /// BullMQ's settings (no Redis by default).
    pub jobs: sowat_admin::config::JobsConfig,
    /// `SOWAT_AUDIT_RETENTION_DAYS` (forever by default).
    pub audit_retention_days: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        // High enough that tests signing in many actors never meet it.
        Options {
            login_attempts_per_minute: 10_000,
            https: false,
            smtp: None,
            stripe: sowat_admin::config::StripeConfig {
                secret_key: None,
                webhook_secret: None,
                api_base: None,
                return_url: "https://sowat.io/".into(),
            },
            jobs: sowat_admin::config::JobsConfig {
                redis_url: None,
                prefix: "bull".into(),
                queues: vec!["articleQueue".into(), "social-media-post".into()],
                alert_every: std::time::Duration::from_secs(1),
            },
            audit_retention_days: None,
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("sowat-test-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (backend, pg_drop) = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("sowat_test_{id}");
                let mut conn = AsyncPgConnection::establish(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL answers");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                (Backend::Postgres(url.to_string()), Some((admin_url, name)))
            }
            _ => (Backend::Sqlite(dir.join("test.db")), None),
        };
        let port = free_port();
        let config = Config {
            backend,
            pool_size: 4,
            listen: format!("127.0.0.1:{port}").parse().expect("addr"),
            public_url: url::Url::parse(&format!(
                "{}://127.0.0.1:{port}",
                if options.https { "https" } else { "http" }
            ))
            .expect("url"),
            data_dir: dir.clone(),
            cors_origins: vec!["https://admin.sowat.io".into()],
            secret_key: None,
            session_idle: time::Duration::minutes(30),
            session_max: time::Duration::hours(12),
            trusted_proxies: 0,
            login_attempts_per_minute: options.login_attempts_per_minute,
            housekeeping: std::time::Duration::from_secs(300),
            audit_retention_days: options.audit_retention_days,
            step_up: std::time::Duration::from_secs(600),
            instance_name: None,
            task_workers: 2,
            smtp: options.smtp.clone().map(sowat_admin::config::SmtpUrl),
            mail_from: "sowat admin <no-reply@sowat.io>".into(),
            stripe: options.stripe.clone(),
            jobs: options.jobs.clone(),
        };
        let clock = Clock::system();
        let running = start(config.clone(), clock.clone())
            .await
            .expect("the app starts");
        TestApp {
            config,
            base: format!("http://{}", running.addr),
            running: Some(running),
            clock,
            dir,
            pg_drop,
        }
    }

    /// The settings a command-line run of the binary needs to open this
    /// test's database (`SOWAT_DATABASE_URL`, `SOWAT_DATA_DIR`).
    /// Runs `sowat-admin ARGS` on the test's database: (success, stdout,
    /// stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sowat-admin"))
            .args(args)
            .envs(self.cli_env())
            .env("SOWAT_LOG", "error")
            .output()
            .expect("the binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// [`Self::cli`] with both outputs as one text.
    pub fn cli_text(&self, args: &[&str]) -> (bool, String) {
        let (ok, out, err) = self.cli(args);
        (ok, format!("{out}{err}"))
    }

    pub fn cli_env(&self) -> [(&'static str, String); 2] {
        let url = match &self.config.backend {
            Backend::Sqlite(path) => format!("sqlite://{}", path.display()),
            Backend::Postgres(url) => url.clone(),
        };
        [
            ("SOWAT_DATABASE_URL", url),
            ("SOWAT_DATA_DIR", self.dir.display().to_string()),
        ]
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: cookies on, redirects off.
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub async fn db(&self) -> sowat_admin::db::Db {
        self.running()
            .state
            .pool
            .get()
            .await
            .expect("db connection")
    }

    /// Creates an active user with `roles` (platform role keys) and, when
    /// `with_totp`, an enrolled second factor.
    pub async fn create_user(&self, email: &str, roles: &[&str], with_totp: bool) -> TestUser {
        let state = &self.running().state;
        let now = self.clock.now_primitive();
        let mut db = self.db().await;
        let hash = password::hash(PASSWORD).expect("hash");
        let new = NewUser {
            password_hash: Some(hash),
            ..NewUser::new(
                email,
                "Test User",
                "Acme",
                UserType::External,
                UserStatus::Active,
                now,
            )
        };
        let id: i64 = db_run!(&mut db, |c| diesel::insert_into(users::table)
            .values(&new)
            .returning(users::id)
            .get_result(c)
            .await)
        .expect("insert user");
        for role in roles {
            store::grant_role(&mut db, id, role, None, now)
                .await
                .expect("grant role");
        }
        let totp_secret = if with_totp {
            let secret = totp::generate_secret();
            let sealed = state.secrets.encrypt(&secret).expect("seal");
            db_run!(&mut db, |c| diesel::update(users::table.find(id))
                .set((users::totp_secret.eq(sealed), users::totp_enabled.eq(true)))
                .execute(c)
                .await)
            .expect("enable totp");
            Some(secret)
        } else {
            None
        };
        TestUser {
            id,
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            totp_secret,
        }
    }

    pub async fn create_kind(&self, kind: Kind) -> Option<TestUser> {
        if kind == Kind::Anonymous {
            return None;
        }
        let email = format!("{kind:?}@example.test").to_lowercase();
        let roles: Vec<&str> = kind.platform_role().into_iter().collect();
        let user = self.create_user(&email, &roles, true).await;
        if let Some(role) = match kind {
            Kind::Manager => Some(WorkspaceRole::Manager),
            Kind::Member => Some(WorkspaceRole::Member),
            _ => None,
        } {
            self.add_member(&user, "club", role).await;
        }
        Some(user)
    }

    /// Puts `user` in workspace `slug` (created if missing) with `role`.
    pub async fn add_member(&self, user: &TestUser, slug: &str, role: WorkspaceRole) {
        let now = self.clock.now_primitive();
        let mut db = self.db().await;
        let existing: Option<i64> = db_run!(&mut db, |c| workspaces::table
            .filter(workspaces::slug.eq(slug))
            .select(workspaces::id)
            .first(c)
            .await
            .optional())
        .expect("find ws");
        let ws = match existing {
            Some(id) => id,
            None => db_run!(&mut db, |c| diesel::insert_into(workspaces::table)
                .values((
                    workspaces::slug.eq(slug),
                    workspaces::name.eq(slug),
                    workspaces::is_base.eq(false),
                    workspaces::settings.eq("{}"),
                    workspaces::created_at.eq(now)
                ))
                .returning(workspaces::id)
                .get_result(c)
                .await)
            .expect("insert ws"),
        };
        db_run!(&mut db, |c| diesel::insert_into(workspace_members::table)
            .values((
                workspace_members::workspace_id.eq(ws),
                workspace_members::user_id.eq(user.id),
                workspace_members::role.eq(role),
                workspace_members::created_at.eq(now)
            ))
            .execute(c)
            .await)
        .expect("insert member");
    }

    /// The current TOTP code of `user` by the app's clock.
    pub fn code(&self, user: &TestUser) -> String {
        let t = totp::build(
            user.totp_secret.as_deref().expect("user has TOTP"),
            &user.email,
        )
        .expect("totp");
        totp::code_at(&t, self.clock.unix())
    }

    /// Signs `user` in on `client` (password, then TOTP when enrolled).
    /// Moves the clock one step first so a code is never a replay.
    pub async fn sign_in(&self, client: &Client, user: &TestUser) {
        let res = self
            .login_password(client, &user.email, &user.password)
            .await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "password step for {}",
            user.email
        );
        if user.totp_secret.is_some() {
            assert!(
                location(&res).starts_with("/login/totp"),
                "second factor asked"
            );
            self.clock.advance(time::Duration::seconds(30));
            let code = self.code(user);
            let res = self
                .post_form(client, "/login/totp", &[("code", &code), ("next", "/")])
                .await;
            assert_eq!(
                res.status(),
                StatusCode::SEE_OTHER,
                "TOTP step for {}",
                user.email
            );
        }
    }

    /// A new client signed in as `kind` (anonymous: a fresh client).
    pub async fn client_as(&self, kind: Kind) -> (Client, Option<TestUser>) {
        let client = self.client();
        let user = self.create_kind(kind).await;
        if let Some(u) = &user {
            self.sign_in(&client, u).await;
        }
        (client, user)
    }

    pub async fn login_password(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post_form(
            client,
            "/login",
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await
    }

    pub async fn get(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("GET")
    }

    /// The CSRF token of `client`'s session (read from a page, like a browser).
    pub async fn csrf(&self, client: &Client) -> String {
        // Signed-in users are redirected away from /login: follow to a page.
        let mut res = self.get(client, "/login").await;
        for _ in 0..3 {
            if res.status() != StatusCode::SEE_OTHER {
                break;
            }
            let next = location(&res);
            res = self.get(client, &next).await;
        }
        let body = res.text().await.expect("body");
        let doc = Html::parse_document(&body);
        let sel = Selector::parse("input[name=_csrf]").expect("selector");
        doc.select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_default()
            .to_owned()
    }

    /// POSTs a form with the session's CSRF token added.
    pub async fn post_form(
        &self,
        client: &Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let token = self.csrf(client).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf", &token));
        client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// Audit events with `action`, as (outcome, actor_label, details).
    pub async fn audit(&self, action: &str) -> Vec<(String, String, String)> {
        use sowat_admin::db::schema::audit_events as a;
        let mut db = self.db().await;
        db_run!(&mut db, |c| a::table
            .filter(a::action.eq(action))
            .order(a::id.asc())
            .select((a::outcome, a::actor_label, a::details))
            .load::<(String, String, String)>(c)
            .await)
        .expect("audit query")
    }
}

impl TestApp {
    /// Kills the server as a crash would (tasks keep their leases, the step
    /// in flight rolls back), then starts a new one on the same database,
    /// data directory and clock, on another port.
    pub async fn crash_and_restart(&mut self) {
        let running = self.running.take().expect("running");
        running.crash().await;
        let mut config = self.config.clone();
        let port = free_port();
        config.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        let _ = config.public_url.set_port(Some(port));
        let running = start(config.clone(), self.clock.clone())
            .await
            .expect("the app restarts");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
        self.config = config;
    }

    /// Starts another instance on the same database, data directory and
    /// clock, on a port of its own, as a second server behind a load
    /// balancer would run. Its base URL is `running.addr`.
    pub async fn second_instance(&self) -> Running {
        let mut config = self.config.clone();
        let port = free_port();
        config.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        let _ = config.public_url.set_port(Some(port));
        start(config, self.clock.clone())
            .await
            .expect("the second instance starts")
    }

    /// Waits until task `id` is over, and returns it. The ceiling only
    /// catches a task that never ends: a 20,000-user task on a loaded
    /// 2-core machine with a debug build takes minutes.
    pub async fn wait_for_task(&self, id: i64) -> sowat_admin::tasks::store::Task {
        for _ in 0..6000 {
            let mut db = self.db().await;
            let t = sowat_admin::tasks::store::get(&mut db, id)
                .await
                .expect("read task")
                .expect("task exists");
            if t.state().is_over() {
                return t;
            }
            drop(db);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("task {id} did not end within ten minutes");
    }

    /// Waits until every task enqueued so far (the scheduled ones of the
    /// start included) is over, so a test that claims by hand gets its own.
    pub async fn wait_for_idle_tasks(&self) {
        for _ in 0..600 {
            let mut db = self.db().await;
            let open = sowat_admin::tasks::store::recent(&mut db, None, 1000)
                .await
                .expect("tasks")
                .iter()
                .any(|t| !t.state().is_over());
            if !open {
                return;
            }
            drop(db);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("tasks still open after a minute");
    }

    /// Downloads what task `id` produced, as `client`.
    pub async fn download(&self, client: &Client, id: i64) -> Response {
        self.get(client, &format!("/admin/tasks/{id}/download"))
            .await
    }
}

/// The task a redirect leads to (`/admin/tasks/{id}`).
pub fn task_of(res: &Response) -> i64 {
    let to = location(res);
    to.strip_prefix("/admin/tasks/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a task page: {to}"))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Drop runs outside async: a small runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("rt");
                rt.block_on(async {
                    if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url).await {
                        let _ = conn
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub fn select_text(html: &str, selector: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).expect("selector");
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

pub fn select_attr(html: &str, selector: &str, attr: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).expect("selector");
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr(attr))
        .map(str::to_owned)
}

/// The attribute `attr` of every element matching `selector`, in order.
pub fn select_attrs(html: &str, selector: &str, attr: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).expect("selector");
    doc.select(&sel)
        .filter_map(|e| e.value().attr(attr))
        .map(str::to_owned)
        .collect()
}
