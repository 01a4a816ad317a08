//! Sending an alert: to Slack's incoming webhook (an HTTPS POST, bounded
//! in time), by mail through the outbox, and as an in-app notification to
//! the staff who read jobs; what happened is kept with the alert.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::history;
use super::settings::{AlertSettings, Rule};
use crate::access::Permission;
use crate::db::Pool;
use crate::mail::{self, Mail};
use crate::metering::notify::{self, NewNotification};

const SLACK_TIMEOUT: Duration = Duration::from_secs(5);

/// POSTs `{"text": …}` to a Slack incoming webhook (http only for a local
/// stand-in; the settings page asks for https).
pub async fn post_slack(url: &str, text: &str) -> Result<(), String> {
    let uri: hyper::Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let body = json!({ "text": text }).to_string();
    let req = hyper::Request::post(uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let res = tokio::time::timeout(SLACK_TIMEOUT, client.request(req))
        .await
        .map_err(|_| "Slack did not answer within 5 s".to_owned())?
        .map_err(|e| format!("Slack could not be reached: {e}"))?;
    let status = res.status();
    // Read the answer so the connection is reused; its words explain a refusal.
    let said = tokio::time::timeout(SLACK_TIMEOUT, res.into_body().collect())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|b| {
            String::from_utf8_lossy(&b.to_bytes())
                .chars()
                .take(200)
                .collect::<String>()
        })
        .unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("Slack answered {status}: {said}"))
    }
}

/// One alert to send.
pub struct Alert {
    pub queue: String,
    pub rule: Rule,
    /// breach, recovery or test.
    pub kind: &'static str,
    pub figures: Value,
    /// The sentence (the product's language for Slack and mail).
    pub message: String,
}

/// Sends `alert` everywhere the settings say, and keeps it; its id.
pub async fn send(
    pool: &Pool,
    settings: &AlertSettings,
    alert: Alert,
    now: PrimitiveDateTime,
) -> Result<i64, crate::db::DbError> {
    let mut delivery = Vec::new();
    let headline = match alert.kind {
        "recovery" => format!("✅ {}", alert.message),
        "test" => format!("🧪 {}", alert.message),
        _ => format!("🚨 {}", alert.message),
    };
    match &settings.slack_url {
        Some(url) => match post_slack(url, &headline).await {
            Ok(()) => delivery.push("slack: sent".to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "a job alert could not be posted to Slack");
                delivery.push(format!("slack: {e}"));
            }
        },
        None => delivery.push("slack: not configured".to_owned()),
    }
    if !settings.emails.is_empty() {
        delivery.push(format!("mail: {} queued", settings.emails.len()));
    }
    if settings.notify_in_app {
        delivery.push("in-app".to_owned());
    }
    let mut db = pool.get().await?;
    let emails = settings.emails.clone();
    let in_app = settings.notify_in_app;
    let id = db
        .transaction(|tx| {
            Box::pin(async move {
                let id = history::record(tx, &alert, &delivery.join("; "), now).await?;
                for to in &emails {
                    mail::queue(
                        tx,
                        now,
                        Mail {
                            to,
                            subject: format!("[sowat jobs] {}", alert.message.chars().take(120).collect::<String>()),
                            body: format!("{headline}\n\nFigures: {}\n\nSee /admin/jobs/alerts in the backoffice.\n", alert.figures),
                        },
                    )
                    .await?;
                }
                if in_app {
                    notify::raise(
                        tx,
                        NewNotification {
                            permission: Permission::JobsRead,
                            kind: if alert.kind == "recovery" { "job_recovered" } else { "job_alert" },
                            subject_user_id: None,
                            details: json!({ "queue": alert.queue, "message": alert.message, "alert": id }),
                            dedupe_key: format!("job_alert:{id}"),
                        },
                        now,
                    )
                    .await?;
                }
                Ok::<_, diesel::result::Error>(id)
            })
        })
        .await?;
    Ok(id)
}
