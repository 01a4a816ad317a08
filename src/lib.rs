//! sowat-admin: the admin backoffice of sowat.io.
//!
//! [`app`] assembles the router and its layers in one place; [`start`] opens
//! the database, applies migrations, binds the port and serves.
//!
//! # Layers, lowest first (a module imports only from the lines above its own;
//! `tests/it/layers.rs` checks it)
//! 1. `config`, `clock`, `i18n`, `redact`: leaves.
//! 2. `db` (pool, `db_run!`, `Tx`, locks, shared state), then `error`, `cpu`.
//! 3. `access` (permissions, the route rule, `can()`, role cache), `audit`
//!    (events written through a `Tx`), `change` (`By`, `ChangeError`),
//!    `user_record` (the `users` row and its derived columns).
//! 4. `security` (credentials, secrets, sessions), `mail` (the outbox),
//!    `tasks` (the durable task runner): no HTTP, no area; then
//!    `invitations` (a pending account and its mailed one-time link, for
//!    the users and workspaces areas alike) and `metering` (plans, quotas,
//!    the atomic usage count, staff notifications, the month close).
//! 5. `state`, then `web` (layout, guard, CSRF, extractors, forms, formats).
//! 6. Areas, peers that never import each other: `auth`, `account`, `admin`,
//!    `users`, `workspaces`, `plans`, `usage`, `notifications`,
//!    `task_pages`, plus `health` and `seed`. Each has the same
//!    files: `mod.rs` (routes), `handlers` (a file, or a folder with a file
//!    per screen), `store.rs` (reads), `changes` (writes), `views.rs`
//!    (template structs), `tasks/` (long work), as far as it needs them.
//! 7. `routes` and `task_kinds` (the tables gathering every area's routes
//!    and task handlers), then `cli` and this file.
//!
//! # Adding an area
//! A new area `foo` adds these files and touches no other area's:
//! - `src/foo/mod.rs`: `pub fn routes()`, one line per route
//!   (`get("/admin/foo", Staff(FooRead), handlers::list)`);
//! - `src/foo/handlers.rs` (or `handlers/`, one file per screen): extract
//!   (`web::action::Call`), check, call, render;
//! - `src/foo/store.rs`: reads; `src/foo/changes.rs`: writes taking
//!   `&mut Tx` and a `change::By`, each recording an `audit::Action`;
//! - `src/foo/views.rs`: the askama structs of `templates/foo/*.html`;
//! - `src/foo/tasks.rs` if it has long work (handlers for `tasks::Kind`);
//! - `tests/it/foo.rs`.
//!
//! And one line in each shared list: `routes::table`, `task_kinds` (if it
//! has tasks), `access::Permission`, `audit::Action`, `locales/{en,fr}.txt`,
//! the access matrix's expectations, a migration pair in
//! `migrations/{sqlite,postgres}/`, and `LAYERS` in `tests/it/layers.rs`.

// Outside tests, failures are handled, never unwrapped.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
// Borrowed from kanidm: no placeholder left behind, no lock held across an
// await, no `unreachable!` without a reason written next to it, and no
// `std::thread::sleep` (clippy.toml) on an async worker.
#![deny(
    clippy::todo,
    clippy::unimplemented,
    clippy::unreachable,
    clippy::await_holding_lock,
    clippy::dbg_macro,
    clippy::disallowed_methods
)]

pub mod access;
pub mod account;
pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod billing_pages;
pub mod change;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod db;
pub mod error;
pub mod health;
pub mod i18n;
pub mod invitations;
pub mod job_pages;
pub mod jobs;
pub mod mail;
pub mod metering;
pub mod notifications;
pub mod plans;
pub mod redact;
pub mod roles;
pub mod routes;
pub mod security;
pub mod seed;
pub mod session_pages;
pub mod state;
pub mod task_kinds;
pub mod task_pages;
pub mod tasks;
pub mod usage;
pub mod user_record;
pub mod users;
pub mod web;
pub mod workspaces;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::clock::Clock;
use crate::config::{Backend, Config, ConfigError, bad};
use crate::db::Pool;
use crate::security::rate_limit::RateLimiter;
use crate::security::session_store::DbSessionStore;
use crate::state::AppState;

/// The session cookie's name: `__Host-` binds it to this exact origin under https.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-sowat_session"
    } else {
        "sowat_session"
    }
}

fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    // A list, not a single origin: CorsLayer echoes a lone exact origin to
    // everyone, whereas a list gives other origins no allow header at all.
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-csrf-token"),
            HeaderName::from_static("x-workspace-id"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Longest a request may take before it is answered 503 (a streamed
/// download only needs its headers sent in that time).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole application with its layers, outermost last.
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    let store = DbSessionStore::new(
        state.pool.clone(),
        state.clock.clone(),
        config.session_idle,
        config.session_max,
    );
    let sessions = SessionManagerLayer::new(store)
        .with_name(session_cookie_name(&config))
        .with_secure(config.is_https())
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd);
    let trace = TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
        let id = req.headers().get(web::request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::info_span!("request", method = %req.method(), path = %redact::path(req.uri().path()), request_id = %id)
    });
    let routes::Routers {
        pages,
        machine,
        webhooks,
    } = routes::routers(&state);
    let pages = pages
        .fallback(web::errors::not_found)
        .layer(from_fn_with_state(state.clone(), web::csrf::protect))
        .layer(from_fn_with_state(state.clone(), web::current::load))
        .layer(sessions)
        .layer(from_fn(web::lang::negotiate));
    // No session, CSRF or language there: a key, its limits, JSON.
    let machine = machine.layer(from_fn_with_state(state.clone(), api::bearer::authenticate));
    // Only the raw body and the signature: Stripe's events are far smaller
    // than this, anything larger is refused before it is read.
    let webhooks = webhooks.layer(axum::extract::DefaultBodyLimit::max(
        billing_pages::webhook::MAX_BODY,
    ));
    pages
        .merge(machine)
        .merge(webhooks)
        .layer(from_fn(web::sanitize::strip_controls))
        // Both answer below the error layer, which renders them like any
        // other error (page, toast or JSON, with the request id).
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(error::AppError::internal(
                    "a handler panicked",
                ))
            },
        ))
        .layer(from_fn(web::errors::render))
        // `Vary: HX-Request` on answers that differ for htmx (the extractor
        // marks them), so a cache never serves a fragment as a page.
        .layer(axum_htmx::AutoVaryLayer)
        .layer(CompressionLayer::new())
        .layer(cors(&config))
        .layer(from_fn_with_state(state.clone(), web::headers::apply))
        .layer(trace)
        .layer(from_fn(web::request_id::assign))
        .with_state(state)
}

/// Why the service could not start; `setting` is set when configuration is at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Other(String),
}

/// Opens the database and applies migrations (shared by `serve` and `migrate`).
pub async fn open_database(config: &Config) -> Result<(Pool, usize), StartError> {
    if let Backend::Sqlite(path) = &config.backend {
        db::prepare_sqlite_path(path).map_err(|m| bad("SOWAT_DATABASE_URL", m))?;
    }
    let pool =
        Pool::new(&config.backend, config.pool_size).map_err(|m| bad("SOWAT_DATABASE_URL", m))?;
    let applied = db::migrate::run(&pool).await.map_err(|e| {
        bad(
            "SOWAT_DATABASE_URL",
            format!("cannot prepare the database: {e}"),
        )
    })?;
    // Data the SQL cannot compute: it needs the areas' code.
    let filled = start_step(&pool, "computing search keys", |db| {
        Box::pin(user_record::search_keys::backfill(db))
    })
    .await?;
    if filled > 0 {
        tracing::info!(users = filled, "search keys computed");
    }
    let keyed = start_step(&pool, "computing the audit trail's address keys", |db| {
        Box::pin(audit::address::backfill(db))
    })
    .await?;
    if keyed > 0 {
        tracing::info!(events = keyed, "audit address keys computed");
    }
    // Events from before the audit chain get their links, oldest first.
    let sealed = start_step(&pool, "linking the audit trail", |db| {
        Box::pin(audit::chain::seal_legacy(db))
    })
    .await?;
    if sealed > 0 {
        tracing::info!(events = sealed, "audit events linked into the chain");
    }
    Ok((pool, applied))
}

/// One start-up step over the database; its failure names what failed.
async fn start_step<T>(
    pool: &Pool,
    what: &str,
    step: impl for<'c> FnOnce(&'c mut db::Db) -> db::BoxFuture<'c, Result<T, diesel::result::Error>>,
) -> Result<T, StartError> {
    let fail = |e: String| bad("SOWAT_DATABASE_URL", format!("{what} failed: {e}"));
    let mut db = pool.get().await.map_err(|e| fail(e.to_string()))?;
    Ok(step(&mut db).await.map_err(|e| fail(e.to_string()))?)
}

fn check_data_dir(config: &Config) -> Result<(), ConfigError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        bad(
            "SOWAT_DATA_DIR",
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(|e| {
        bad(
            "SOWAT_DATA_DIR",
            format!("cannot write to {}: {e}", dir.display()),
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    pub setup_link: Option<String>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, hands running
    /// tasks back to the queue, then returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        for worker in self.workers {
            let _ = worker.await;
        }
        flush_denials(&self.state).await;
        let now = self.state.clock.now_primitive();
        self.state.key_ledger.settle(&self.state.pool, now).await;
    }

    /// Stops at once, as a crash would: workers are dropped mid-step (the
    /// open transaction rolls back) and keep their leases until they
    /// expire. For tests of what survives a crash.
    pub async fn crash(self) {
        for worker in &self.workers {
            worker.abort();
        }
        self.task.abort();
        let _ = self.shutdown.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(self) -> std::io::Result<()> {
        let ended = self
            .task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        for worker in self.workers {
            let _ = worker.await;
        }
        flush_denials(&self.state).await;
        ended
    }

    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// The denials summed in memory, written before the process goes.
async fn flush_denials(state: &AppState) {
    if let Err(e) = state
        .anon_denials
        .flush(&state.pool, &state.clock, true)
        .await
    {
        tracing::warn!(error = %e, "writing summed denials failed");
    }
}

/// Starts the service with `clock` (tests pass one they can move).
pub async fn start(config: Config, clock: Clock) -> Result<Running, StartError> {
    check_data_dir(&config)?;
    let secrets = security::secret_key::load(&config)?;
    let (pool, applied) = open_database(&config).await?;
    security::secret_key::check(&pool, &secrets).await?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "is already in use".to_owned()
        } else {
            format!("cannot be opened: {e}")
        };
        bad("SOWAT_LISTEN", format!("{} {why}", config.listen))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    // Force the lazily built password data now, not during the first sign-in.
    let _ = &*security::password::DUMMY_HASH;
    let attempts = config.login_attempts_per_minute;
    let meter_pool = pool
        .for_hot_paths(
            &config.backend,
            config.pool_size,
            metering::meter::pg_prepared(),
        )
        .map_err(|m| bad("SOWAT_DATABASE_URL", m))?;
    // Half the meter's connections commit batches of calls (4 of the
    // default 8 measured best: see `group_commit`); the rest serve
    // replays, alerts and `check`.
    let meter = metering::meter::Meter::new(meter_pool, (config.pool_size / 2).max(1));
    let config_stripe = config.stripe.clone();
    let config_jobs = config.jobs.clone();
    let state = AppState {
        pool: pool.clone(),
        meter,
        config: Arc::new(config),
        clock: clock.clone(),
        secrets: Arc::new(secrets),
        login_limiter: Arc::new(RateLimiter::new(attempts, 60)),
        roles: Arc::new(access::role_cache::RoleCache::default()),
        cpu: Arc::new(cpu::CpuPool::for_this_machine()),
        anon_denials: Arc::new(audit::anonymous::AnonymousDenials::default()),
        key_ledger: Arc::default(),
        key_cache: Arc::default(),
        tasks: tasks::Waker::default(),
        stripe: billing::stripe_api::StripeApi::from_config(&config_stripe)
            .map_err(|m| bad("SOWAT_STRIPE_SECRET_KEY", m))?
            .map(Arc::new),
        jobs: jobs::JobsLink::new(&config_jobs),
    };
    state.jobs.start();
    let mailer = Arc::new(mail::sender::Mailer::from_config(&state.config)?);
    let link_base = state.config.clone();
    let setup_link =
        auth::changes::first_admin_link(&pool, &clock, &state.secrets, |p| link_base.link(p))
            .await
            .map_err(|e| StartError::Other(format!("cannot create the setup link: {e}")))?;
    let (shutdown, mut stop) = watch::channel(false);
    spawn_background(&state, &stop);
    let runner = Arc::new(tasks::runner::Runner {
        pool: state.pool.clone(),
        clock: state.clock.clone(),
        handlers: task_kinds::handlers(&state, mailer),
        instance: format!(
            "{}-{}",
            state.config.instance_name.as_deref().unwrap_or("sowat"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        waker: state.tasks.clone(),
    });
    let workers = tasks::runner::spawn(runner, state.config.task_workers, &stop);
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        state,
        setup_link,
        shutdown,
        task,
        workers,
    })
}

/// Runs `job` every `period` until the server stops (the first time at
/// once, or after one period when `at_start` is false).
fn repeat<F, Fut>(period: Duration, at_start: bool, mut stop: watch::Receiver<bool>, mut job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + if at_start { Duration::ZERO } else { period };
        let mut tick = tokio::time::interval_at(first, period);
        loop {
            // The watch's guard is dropped inside the branch, before any await.
            let stopped = tokio::select! {
                _ = tick.tick() => false,
                r = stop.wait_for(|stopped| *stopped) => {
                    drop(r);
                    true
                }
            };
            if stopped {
                break;
            }
            job().await;
        }
    });
}

/// Background work: summed denials written each 15 s, API key counts
/// settled each 5 s, the role version
/// followed each second, and the scheduler enqueueing the periodic tasks
/// (purges of expired sessions, old sign-in counters and task outputs,
/// users deleted more than 30 days ago), which any instance's workers run.
fn spawn_background(state: &AppState, stop: &watch::Receiver<bool>) {
    let s = state.clone();
    repeat(Duration::from_secs(15), true, stop.clone(), move || {
        let s = s.clone();
        async move {
            if let Err(e) = s.anon_denials.flush(&s.pool, &s.clock, false).await {
                tracing::warn!(error = %e, "writing summed denials failed");
            }
        }
    });
    let s = state.clone();
    repeat(Duration::from_secs(5), false, stop.clone(), move || {
        let s = s.clone();
        async move { s.key_ledger.settle(&s.pool, s.clock.now_primitive()).await }
    });
    let s = state.clone();
    repeat(Duration::from_secs(1), true, stop.clone(), move || {
        let s = s.clone();
        async move {
            let followed = match s.pool.get().await {
                Ok(mut db) => s.roles.follow(&mut db).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = followed {
                tracing::debug!(error = %e, "role version check failed");
            }
        }
    });
    let s = state.clone();
    // sowat.io's queues' event streams into the failure index.
    repeat(Duration::from_millis(500), true, stop.clone(), move || {
        let s = s.clone();
        async move {
            if !s.jobs.configured() {
                return;
            }
            match jobs::index::catch_up::round(&s.pool, &s.clock, &s.jobs).await {
                Ok(_)
                | Err(jobs::index::catch_up::FollowError::Jobs(jobs::JobsError::Unavailable)) => {}
                Err(e) => tracing::warn!(error = %e, "following the BullMQ event streams failed"),
            }
        }
    });
    let s = state.clone();
    // The job alert rules, on one instance at a time.
    repeat(
        state.config.jobs.alert_every,
        false,
        stop.clone(),
        move || {
            let s = s.clone();
            async move {
                if let Err(e) = jobs::alerts::evaluate::round(&s.pool, &s.clock, &s.jobs).await {
                    tracing::warn!(error = %e, "evaluating the job alerts failed");
                }
            }
        },
    );
    let s = state.clone();
    // Not at start: instances starting together (or a test) are not all
    // purging at once while they open the database.
    repeat(state.config.housekeeping, false, stop.clone(), move || {
        let s = s.clone();
        async move { schedule(&s).await }
    });
}

/// Enqueues this period's scheduled tasks (purges, clean-up); one
/// instance at a time, and the slot key makes a repeat a no-op anyway.
async fn schedule(s: &AppState) {
    let lock = match db::locks::try_acquire(&s.pool, db::locks::Lock::Housekeeping).await {
        Ok(Some(lock)) => lock,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "scheduling skipped: no database");
            return;
        }
    };
    let added = match s.pool.get().await {
        Ok(mut db) => {
            let now = s.clock.now_primitive();
            let due = tasks::schedule::enqueue_due(&mut db, now, s.config.housekeeping).await;
            let purge = match s.config.audit_retention_days {
                Some(days) => tasks::schedule::enqueue_audit_purge(&mut db, now, days).await,
                None => Ok(false),
            };
            due.and_then(|n| purge.map(|p| n + usize::from(p)))
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match added {
        Ok(0) => {}
        Ok(n) => {
            tracing::debug!(tasks = n, "scheduled tasks enqueued");
            s.tasks.wake();
        }
        Err(e) => tracing::warn!(error = %e, "scheduling failed"),
    }
    lock.release().await;
}
