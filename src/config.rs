//! Typed configuration from flags and `SOWAT_*` environment variables,
//! validated before anything starts so a bad setting stops the process with
//! one line that names it.

use std::net::SocketAddr;
use std::path::PathBuf;

mod jobs;
pub use jobs::JobsConfig;

use clap::{Args, ValueEnum};
use url::Url;

#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Database: sqlite://path/to/file.db or postgres://user@host/db
    #[arg(
        long,
        env = "SOWAT_DATABASE_URL",
        default_value = "sqlite://data/sowat-admin.db",
        global = true
    )]
    pub database_url: String,

    /// Connections kept in the database pool.
    #[arg(long, env = "SOWAT_POOL_SIZE", default_value_t = 8, global = true)]
    pub pool_size: usize,

    /// Address and port to listen on.
    #[arg(
        long,
        env = "SOWAT_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,

    /// The URL users reach the service at; https turns on Secure cookies and HSTS.
    #[arg(
        long,
        env = "SOWAT_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub public_url: String,

    /// Directory for the SQLite file and the generated secret key.
    #[arg(long, env = "SOWAT_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Origins allowed to call with credentials (comma-separated).
    #[arg(
        long,
        env = "SOWAT_CORS_ORIGINS",
        default_value = "https://admin.sowat.io",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,

    /// File holding the 32-byte secret key (base64); the key itself is read
    /// only from SOWAT_SECRET_KEY or a file, never from a flag that `ps` shows.
    /// Unset: generated into the data dir (fine for one instance on SQLite).
    #[arg(long, env = "SOWAT_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// Minutes of inactivity after which a session ends.
    #[arg(
        long,
        env = "SOWAT_SESSION_IDLE_MINUTES",
        default_value_t = 30,
        global = true
    )]
    pub session_idle_minutes: i64,

    /// Hours after sign-in after which a session ends whatever the activity.
    #[arg(
        long,
        env = "SOWAT_SESSION_MAX_HOURS",
        default_value_t = 12,
        global = true
    )]
    pub session_max_hours: i64,

    /// Proxies in front of the service that append to X-Forwarded-For (0: use the peer address).
    #[arg(
        long,
        env = "SOWAT_TRUSTED_PROXIES",
        default_value_t = 0,
        global = true
    )]
    pub trusted_proxies: u8,

    /// Older form of `--trusted-proxies 1`.
    #[arg(
        long,
        env = "SOWAT_TRUST_FORWARDED_FOR",
        default_value_t = false,
        hide = true,
        global = true
    )]
    pub trust_forwarded_for: bool,

    /// Sign-in attempts allowed per client IP per minute (more get 429).
    #[arg(
        long,
        env = "SOWAT_LOGIN_ATTEMPTS_PER_MINUTE",
        default_value_t = 20,
        global = true
    )]
    pub login_attempts_per_minute: u32,

    /// Seconds between housekeeping runs (purges); one instance runs each.
    #[arg(
        long,
        env = "SOWAT_HOUSEKEEPING_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub housekeeping_seconds: u64,

    /// Days the audit trail keeps its events; older ones are purged daily
    /// (the purge is itself audited and the chain stays verifiable).
    /// Unset: kept forever.
    #[arg(long, env = "SOWAT_AUDIT_RETENTION_DAYS", global = true)]
    pub audit_retention_days: Option<u32>,

    /// Minutes a second-factor check covers dangerous actions ("admin
    /// mode": role changes, API keys, erasure, ending others' sessions…);
    /// past them, the action asks for a fresh code first.
    #[arg(
        long,
        env = "SOWAT_STEP_UP_MINUTES",
        default_value_t = 10,
        global = true
    )]
    pub step_up_minutes: u32,

    /// Workers running the backoffice's tasks on this instance.
    #[arg(long, env = "SOWAT_TASK_WORKERS", default_value_t = 2, global = true)]
    pub task_workers: usize,

    /// Outgoing mail server, e.g. `smtp://user:pass@mail.example.com:587`
    /// (STARTTLS required), `smtps://…:465` (TLS), or
    /// `smtp://127.0.0.1:2525?tls=none` for a local relay. Unset: mail is
    /// written to the log only (development).
    #[arg(long, env = "SOWAT_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Stripe's secret (or restricted) API key, `sk_…`/`rk_…`. Unset: the
    /// billing screens say Stripe is not configured.
    #[arg(
        long,
        env = "SOWAT_STRIPE_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub stripe_secret_key: Option<String>,

    /// The signing secret of the Stripe webhook endpoint, `whsec_…`. Unset:
    /// `POST /webhooks/stripe` refuses every event.
    #[arg(
        long,
        env = "SOWAT_STRIPE_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Option<String>,

    /// Where a customer lands after a Checkout or portal link made from
    /// the backoffice (the main app's page; the API's callers pass their own).
    #[arg(
        long,
        env = "SOWAT_STRIPE_RETURN_URL",
        default_value = "https://sowat.io/",
        global = true
    )]
    pub stripe_return_url: String,

    /// Stripe's API base URL (tests point it at a local peer).
    #[arg(long, env = "SOWAT_STRIPE_API_BASE", global = true)]
    pub stripe_api_base: Option<String>,

    /// Redis holding sowat.io's BullMQ queues, e.g. `redis://host:6379/0`
    /// (`rediss://` for TLS). Unset: the jobs screens say so.
    #[arg(long, env = "SOWAT_REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,

    /// BullMQ's key prefix (the Node side's `prefix` option).
    #[arg(
        long,
        env = "SOWAT_BULLMQ_PREFIX",
        default_value = "bull",
        global = true
    )]
    pub bullmq_prefix: String,

    /// The BullMQ queues supervised, comma-separated.
    #[arg(
        long,
        env = "SOWAT_BULLMQ_QUEUES",
        default_value = "articleQueue,social-media-post",
        global = true
    )]
    pub bullmq_queues: String,

    /// How often the job alert rules are evaluated, in seconds.
    #[arg(
        long,
        env = "SOWAT_JOBS_ALERT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub jobs_alert_seconds: u64,

    /// The sender of outgoing mail.
    #[arg(
        long,
        env = "SOWAT_MAIL_FROM",
        default_value = "sowat admin <no-reply@sowat.io>",
        global = true
    )]
    pub mail_from: String,

    /// A name for this instance, sent as `X-Sowat-Instance` (behind a load balancer).
    #[arg(long, env = "SOWAT_INSTANCE_NAME", global = true)]
    pub instance_name: Option<String>,

    /// Log format.
    #[arg(long, env = "SOWAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "SOWAT_LOG", default_value = "info", global = true)]
    pub log: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Settings after validation.
#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    pub pool_size: usize,
    pub listen: SocketAddr,
    pub public_url: Url,
    pub data_dir: PathBuf,
    pub cors_origins: Vec<String>,
    pub secret_key: Option<SecretKey>,
    pub session_idle: time::Duration,
    pub session_max: time::Duration,
    pub trusted_proxies: u8,
    pub login_attempts_per_minute: u32,
    pub housekeeping: std::time::Duration,
    /// Days audit events are kept (`None`: forever).
    pub audit_retention_days: Option<u32>,
    /// How long a second-factor check covers dangerous actions.
    pub step_up: std::time::Duration,
    pub instance_name: Option<String>,
    pub task_workers: usize,
    pub smtp: Option<SmtpUrl>,
    pub mail_from: String,
    pub stripe: StripeConfig,
    pub jobs: jobs::JobsConfig,
}

/// Stripe's settings; the secrets are kept out of `Debug`.
#[derive(Clone)]
pub struct StripeConfig {
    pub secret_key: Option<String>,
    pub webhook_secret: Option<String>,
    /// With its trailing slash, as the client appends `v1/…`.
    pub api_base: Option<String>,
    pub return_url: String,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "…"))
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "…"))
            .field("api_base", &self.api_base)
            .field("return_url", &self.return_url)
            .finish()
    }
}

impl StripeConfig {
    /// Test-mode keys link to the dashboard's test pages.
    pub fn test_mode(&self) -> bool {
        self.secret_key
            .as_deref()
            .is_some_and(|k| k.starts_with("sk_test_") || k.starts_with("rk_test_"))
    }
}

fn stripe_config(s: &Settings) -> Result<StripeConfig, ConfigError> {
    let set = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let secret_key = set(&s.stripe_secret_key);
    if secret_key
        .as_deref()
        .is_some_and(|k| !(k.starts_with("sk_") || k.starts_with("rk_")) || k.len() < 8)
    {
        return Err(bad(
            "SOWAT_STRIPE_SECRET_KEY",
            "is not a Stripe secret key (sk_live_…, sk_test_… or a restricted rk_… key)",
        ));
    }
    let webhook_secret = set(&s.stripe_webhook_secret);
    if webhook_secret
        .as_deref()
        .is_some_and(|k| !k.starts_with("whsec_") || k.len() < 10)
    {
        return Err(bad(
            "SOWAT_STRIPE_WEBHOOK_SECRET",
            "is not a webhook signing secret (whsec_…, shown with the endpoint in Stripe's dashboard)",
        ));
    }
    let api_base = match set(&s.stripe_api_base) {
        None => None,
        Some(base) => {
            let url = Url::parse(&base)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| {
                    bad(
                        "SOWAT_STRIPE_API_BASE",
                        "is not an http(s) URL such as https://api.stripe.com",
                    )
                })?;
            let text = url.to_string();
            Some(if text.ends_with('/') {
                text
            } else {
                format!("{text}/")
            })
        }
    };
    let return_url = Url::parse(s.stripe_return_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            bad(
                "SOWAT_STRIPE_RETURN_URL",
                "is not an http(s) URL such as https://sowat.io/account",
            )
        })?
        .to_string();
    Ok(StripeConfig {
        secret_key,
        webhook_secret,
        api_base,
        return_url,
    })
}

/// The mail server's URL, which may hold a password: kept out of `Debug`.
#[derive(Clone)]
pub struct SmtpUrl(pub String);

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl(…)")
    }
}

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

pub fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

impl Settings {
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let backend = parse_database_url(&self.database_url)?;
        if self.pool_size == 0 || self.pool_size > 512 {
            return Err(bad("SOWAT_POOL_SIZE", "must be between 1 and 512"));
        }
        if self.pool_size < 2 && matches!(backend, Backend::Postgres(_)) {
            return Err(bad(
                "SOWAT_POOL_SIZE",
                "must be at least 2 on PostgreSQL (one connection holds the cluster locks of migrations and housekeeping)",
            ));
        }
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            bad(
                "SOWAT_LISTEN",
                format!(
                    "'{}' is not an address:port such as 127.0.0.1:8080",
                    self.listen
                ),
            )
        })?;
        let public_url = Url::parse(&self.public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                bad(
                    "SOWAT_PUBLIC_URL",
                    format!("'{}' is not an http(s) URL", self.public_url),
                )
            })?;
        let mut cors_origins = Vec::new();
        for origin in self
            .cors_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            let parsed = Url::parse(origin)
                .ok()
                .filter(|u| u.host().is_some() && matches!(u.path(), "" | "/"))
                .ok_or_else(|| {
                    bad(
                        "SOWAT_CORS_ORIGINS",
                        format!("'{origin}' is not an origin such as https://admin.sowat.io"),
                    )
                })?;
            cors_origins.push(parsed.origin().ascii_serialization());
        }
        if self.login_attempts_per_minute == 0 {
            return Err(bad("SOWAT_LOGIN_ATTEMPTS_PER_MINUTE", "must be at least 1"));
        }
        if !(1..=24 * 60).contains(&self.session_idle_minutes) {
            return Err(bad(
                "SOWAT_SESSION_IDLE_MINUTES",
                "must be between 1 and 1440",
            ));
        }
        if !(1..=24 * 30).contains(&self.session_max_hours) {
            return Err(bad("SOWAT_SESSION_MAX_HOURS", "must be between 1 and 720"));
        }
        if !(1..=24 * 60).contains(&self.step_up_minutes) {
            return Err(bad("SOWAT_STEP_UP_MINUTES", "must be between 1 and 1440"));
        }
        if self.audit_retention_days == Some(0) {
            return Err(bad(
                "SOWAT_AUDIT_RETENTION_DAYS",
                "must be at least 1 (unset it to keep events forever)",
            ));
        }
        if !(1..=16).contains(&self.task_workers) {
            return Err(bad("SOWAT_TASK_WORKERS", "must be between 1 and 16"));
        }
        let smtp = match self.smtp_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                let parsed = Url::parse(url).ok().filter(|u| {
                    matches!(u.scheme(), "smtp" | "smtps")
                        && u.host_str().is_some_and(|h| !h.is_empty())
                });
                if parsed.is_none() {
                    return Err(bad(
                        "SOWAT_SMTP_URL",
                        "is not a mail server URL such as smtp://user:pass@mail.example.com:587",
                    ));
                }
                Some(SmtpUrl(url.to_owned()))
            }
        };
        if !self.mail_from.contains('@') {
            return Err(bad(
                "SOWAT_MAIL_FROM",
                "must hold an address such as no-reply@sowat.io",
            ));
        }
        Ok(Config {
            backend,
            pool_size: self.pool_size,
            listen,
            public_url,
            data_dir: self.data_dir.clone(),
            cors_origins,
            secret_key: secret_key(self.secret_key_file.as_deref())?,
            session_idle: time::Duration::minutes(self.session_idle_minutes),
            session_max: time::Duration::hours(self.session_max_hours),
            trusted_proxies: if self.trusted_proxies == 0 && self.trust_forwarded_for {
                1
            } else {
                self.trusted_proxies
            },
            login_attempts_per_minute: self.login_attempts_per_minute,
            housekeeping: std::time::Duration::from_secs(
                self.housekeeping_seconds.clamp(1, 86_400),
            ),
            audit_retention_days: self.audit_retention_days,
            step_up: std::time::Duration::from_secs(u64::from(self.step_up_minutes) * 60),
            instance_name: self.instance_name.clone().filter(|n| !n.is_empty()),
            task_workers: self.task_workers,
            smtp,
            mail_from: self.mail_from.clone(),
            stripe: stripe_config(self)?,
            jobs: jobs::jobs_config(self)?,
        })
    }
}

/// The configured secret key (base64 text), kept out of `Debug` output.
#[derive(Clone)]
pub struct SecretKey(pub String);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// From `SOWAT_SECRET_KEY`, else from the key file.
fn secret_key(file: Option<&std::path::Path>) -> Result<Option<SecretKey>, ConfigError> {
    if let Ok(key) = std::env::var("SOWAT_SECRET_KEY")
        && !key.trim().is_empty()
    {
        return Ok(Some(SecretKey(key.trim().to_owned())));
    }
    let Some(path) = file else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(
            "SOWAT_SECRET_KEY_FILE",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(Some(SecretKey(text.trim().to_owned())))
}

pub fn parse_database_url(url: &str) -> Result<Backend, ConfigError> {
    const SETTING: &str = "SOWAT_DATABASE_URL";
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(bad(
                SETTING,
                "sqlite:// needs a file path, such as sqlite://data/sowat-admin.db",
            ));
        }
        return Ok(Backend::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let parsed = Url::parse(url)
            .map_err(|e| bad(SETTING, format!("not a valid PostgreSQL URL ({e})")))?;
        if parsed.host().is_none() {
            return Err(bad(SETTING, "the PostgreSQL URL has no host"));
        }
        return Ok(Backend::Postgres(url.to_owned()));
    }
    let scheme = url
        .split("://")
        .next()
        .filter(|s| *s != url)
        .unwrap_or("(none)");
    Err(bad(
        SETTING,
        format!("unsupported database '{scheme}': use sqlite://FILE or postgres://USER@HOST/DB"),
    ))
}

impl Config {
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// An absolute link to a path of this service.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}
