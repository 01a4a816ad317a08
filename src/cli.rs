//! The command line: `serve` (default), `migrate`, `create-admin`.
//! Configuration errors print one line naming the setting and exit with 2.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::clock::Clock;
use crate::config::{Config, LogFormat, Settings};
use crate::{StartError, open_database, start};

#[derive(Parser, Debug)]
#[command(
    name = "sowat-admin",
    version,
    about = "The admin backoffice of sowat.io"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web UI and API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill the database with generated users (for trying or measuring).
    Seed {
        /// A few hundred realistic users with roles and sign-in history.
        #[arg(long, conflicts_with = "bench")]
        demo: bool,
        /// Many users for benchmarks, plus an administrator the benchmark signs in as.
        #[arg(long, requires = "users")]
        bench: bool,
        /// How many users (with --bench).
        #[arg(long)]
        users: Option<i64>,
    },
    /// Re-seal every stored secret under SOWAT_SECRET_KEY (the new key);
    /// values under SOWAT_PREVIOUS_SECRET_KEY (the old one) are opened with it.
    RotateSecretKey,
    /// Walk the audit trail's hash chain: prints OK and the head, or the
    /// first broken event (exit status 1).
    VerifyAudit {
        /// Also prove the chain still holds the link a digest signed
        /// (a file written by `audit-digest`).
        #[arg(long)]
        digest: Option<std::path::PathBuf>,
    },
    /// Verify the audit chain and print a signed digest of its head (JSON),
    /// for an auditor to keep: `verify-audit --digest FILE` later proves
    /// nothing up to that link has changed.
    AuditDigest,
    /// Print a one-time link that makes EMAIL an Administrator.
    CreateAdmin {
        /// Email of the new administrator.
        #[arg(long)]
        email: String,
    },
    /// Create an API key for an application and print its secret (shown
    /// this once); for bootstrapping a deployment or a test run.
    CreateApiKey {
        /// What the key is for, as people will read it in the list.
        #[arg(long)]
        name: String,
        /// The calling application (`sowat-app`, `article-worker`...).
        #[arg(long)]
        client_id: String,
        /// Email of the user who answers for the key.
        #[arg(long)]
        owner: String,
        /// Comma-separated scopes, e.g. `users:read,users:sync`.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Requests a minute.
        #[arg(long, default_value_t = 600)]
        rate_per_minute: i32,
        /// Requests a calendar month (UTC).
        #[arg(long, default_value_t = 1_000_000)]
        monthly_quota: i64,
    },
}

const CONFIG_EXIT: u8 = 2;

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn fail(e: &StartError) -> ExitCode {
    match e {
        StartError::Config(c) => {
            eprintln!("error: {c}");
            ExitCode::from(CONFIG_EXIT)
        }
        StartError::Other(m) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let config = match cli.settings.validate() {
        Ok(c) => c,
        Err(e) => return fail(&StartError::Config(e)),
    };
    init_logging(&cli.settings);
    // The migration harness blocks in place: it needs the multi-thread runtime.
    // SQLite queries run on blocking threads; a bounded pool keeps memory
    // (one allocator arena per thread) from growing with every burst.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(12)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let result = match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(&config).await,
            Command::VerifyAudit { digest } => verify_audit(&config, digest.as_deref()).await,
            Command::AuditDigest => audit_digest(&config).await,
            Command::RotateSecretKey => rotate_secret_key(&config).await,
            Command::CreateAdmin { email } => create_admin(&config, &email).await,
            Command::CreateApiKey {
                name,
                client_id,
                owner,
                scopes,
                rate_per_minute,
                monthly_quota,
            } => {
                let key = NewApiKey {
                    name,
                    client_id,
                    owner,
                    scopes,
                    rate_per_minute,
                    monthly_quota,
                };
                create_api_key(&config, key).await
            }
            Command::Seed { demo, bench, users } => seed(&config, demo, bench, users).await,
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        }
    })
}

async fn rotate_secret_key(config: &Config) -> Result<(), StartError> {
    let secrets = crate::security::secret_key::load(config)?;
    if secrets.previous_key_id().is_none() {
        return Err(StartError::Config(crate::config::bad(
            "SOWAT_PREVIOUS_SECRET_KEY",
            "set it to the key in use now, and SOWAT_SECRET_KEY to the new key",
        )));
    }
    let (pool, _) = open_database(config).await?;
    crate::security::secret_key::check(&pool, &secrets).await?;
    let count = crate::security::secret_key::rotate(&pool, &secrets, &Clock::system())
        .await
        .map_err(StartError::Other)?;
    println!(
        "re-sealed {count} values under key {}; restart every instance with the new key, then drop SOWAT_PREVIOUS_SECRET_KEY",
        secrets.key_id()
    );
    Ok(())
}

async fn serve(config: Config) -> Result<(), StartError> {
    let running = start(config, Clock::system()).await?;
    println!("sowat-admin listening on http://{}", running.addr);
    if let Some(link) = &running.setup_link {
        println!(
            "\nNo administrator yet. Open this link within one hour to create the first one:\n\n    {link}\n"
        );
    }
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop.send(true);
    });
    running
        .wait()
        .await
        .map_err(|e| StartError::Other(e.to_string()))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn migrate(config: &Config) -> Result<(), StartError> {
    let (_, applied) = open_database(config).await?;
    println!("migrations applied: {applied}");
    Ok(())
}

/// The database, the secret key checked against it, and a chain walk.
async fn walk_chain(
    config: &Config,
) -> Result<
    (
        crate::db::Db,
        crate::security::crypto::SecretBox,
        crate::audit::chain::Verdict,
    ),
    StartError,
> {
    let secrets = crate::security::secret_key::load(config)?;
    let (pool, _) = open_database(config).await?;
    crate::security::secret_key::check(&pool, &secrets).await?;
    let mut db = pool
        .get()
        .await
        .map_err(|e| StartError::Other(e.to_string()))?;
    let verdict = crate::audit::chain::verify(&mut db)
        .await
        .map_err(|e| StartError::Other(format!("reading the audit trail failed: {e}")))?;
    Ok((db, secrets, verdict))
}

async fn audit_digest(config: &Config) -> Result<(), StartError> {
    let (_, secrets, verdict) = walk_chain(config).await?;
    if let Some(b) = &verdict.broken {
        return Err(StartError::Other(format!(
            "the chain is broken ({} at audit event id {}): no digest is signed over it",
            b.reason, b.id
        )));
    }
    let now = Clock::system().now();
    let signed_at = now
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| StartError::Other(e.to_string()))?;
    let digest = crate::admin::digest::sign(&secrets, &verdict, signed_at);
    let json =
        serde_json::to_string_pretty(&digest).map_err(|e| StartError::Other(e.to_string()))?;
    println!("{json}");
    Ok(())
}

async fn verify_audit(config: &Config, digest: Option<&std::path::Path>) -> Result<(), StartError> {
    let (mut db, secrets, verdict) = walk_chain(config).await?;
    if let (Some(path), None) = (digest, &verdict.broken) {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StartError::Other(format!("cannot read {}: {e}", path.display())))?;
        let d: crate::admin::digest::Digest = serde_json::from_str(&text)
            .map_err(|e| StartError::Other(format!("{} is not a digest: {e}", path.display())))?;
        crate::admin::digest::check(&mut db, &secrets, &d)
            .await
            .map_err(|e| StartError::Other(format!("reading the audit trail failed: {e}")))?
            .map_err(|r| {
                StartError::Other(format!(
                    "BROKEN: the digest of {} does not hold: {r}",
                    d.signed_at
                ))
            })?;
        println!(
            "digest of {} holds: link #{} {} is unchanged",
            d.signed_at, d.head_seq, d.head_hash
        );
    }
    match &verdict.broken {
        None => {
            println!(
                "OK: {} audit events, one unbroken chain; head #{} {} ({} redacted by erasure)",
                verdict.events, verdict.head_seq, verdict.head_hash, verdict.redacted
            );
            Ok(())
        }
        Some(b) => Err(StartError::Other(format!(
            "BROKEN: {} at audit event id {} (link {}); the chain holds up to link #{} {}",
            b.reason,
            b.id,
            b.seq.map_or_else(|| "none".to_owned(), |s| s.to_string()),
            verdict.head_seq,
            verdict.head_hash
        ))),
    }
}

async fn create_admin(config: &Config, email: &str) -> Result<(), StartError> {
    let (pool, _) = open_database(config).await?;
    let link =
        crate::auth::changes::invite_admin(&pool, &Clock::system(), email, |p| config.link(p))
            .await
            .map_err(StartError::Other)?;
    println!("Send this one-time link to {email} (valid one hour):\n\n    {link}\n");
    Ok(())
}

/// What `create-api-key` was given, before it is checked.
struct NewApiKey {
    name: String,
    client_id: String,
    owner: String,
    scopes: Vec<String>,
    rate_per_minute: i32,
    monthly_quota: i64,
}

async fn create_api_key(config: &Config, key: NewApiKey) -> Result<(), StartError> {
    use crate::access::Scope;
    let scopes = key
        .scopes
        .iter()
        .map(|s| {
            Scope::parse(s.trim()).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.key()).collect();
                StartError::Other(format!("unknown scope '{s}' (known: {})", known.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (pool, _) = open_database(config).await?;
    let mut db = pool
        .get()
        .await
        .map_err(|e| StartError::Other(e.to_string()))?;
    let email = crate::user_record::model::normalize_email(&key.owner);
    let owner = crate::security::store::user_by_email(&mut db, &email)
        .await
        .map_err(|e| StartError::Other(e.to_string()))?
        .ok_or_else(|| StartError::Other(format!("no user with the email '{}'", key.owner)))?;
    let by = crate::change::By {
        actor: crate::audit::ActorRef::system(),
        meta: crate::audit::RequestMeta {
            client_id: "cli".into(),
            ..Default::default()
        },
        now: Clock::system().now_primitive(),
    };
    let input = crate::api::keys::NewKey {
        name: key.name,
        client_id: key.client_id,
        owner_id: owner.id,
        scopes,
        expires_at: None,
        rate_per_minute: key.rate_per_minute,
        monthly_quota: key.monthly_quota,
    };
    let created = db
        .transaction(|db| Box::pin(async move { crate::api::keys::create(db, &by, &input).await }))
        .await;
    match created {
        Ok((id, secret)) => {
            println!("API key {id} created; its secret, shown this once:\n\n    {secret}\n");
            Ok(())
        }
        Err(crate::change::ChangeError::Invalid(why)) => {
            Err(StartError::Other(crate::i18n::Lang::En.t(why).to_owned()))
        }
        Err(e) => Err(StartError::Other(e.to_string())),
    }
}

async fn seed(
    config: &Config,
    demo: bool,
    bench: bool,
    users: Option<i64>,
) -> Result<(), StartError> {
    let count = match (demo, bench, users) {
        (true, _, _) => 300,
        (_, true, Some(n)) if (1..=10_000_000).contains(&n) => n,
        (_, true, _) => {
            return Err(StartError::Config(crate::config::bad(
                "--users",
                "must be between 1 and 10000000",
            )));
        }
        _ => {
            return Err(StartError::Config(crate::config::bad(
                "seed",
                "choose --demo or --bench --users N",
            )));
        }
    };
    let (pool, _) = open_database(config).await?;
    let secrets = crate::security::secret_key::load(config)?;
    crate::security::secret_key::check(&pool, &secrets).await?;
    let started = std::time::Instant::now();
    let seeded = crate::seed::users(&pool, &Clock::system(), count, bench.then_some(&secrets))
        .await
        .map_err(StartError::Other)?;
    println!(
        "seeded {} users in {:.1} s",
        seeded.users,
        started.elapsed().as_secs_f64()
    );
    if let Some((email, password, totp)) = seeded.bench_admin {
        println!(
            "bench administrator:\n  email:    {email}\n  password: {password}\n  totp:     {totp}"
        );
    }
    Ok(())
}
