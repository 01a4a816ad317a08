//! sowat.io's side of the jobs tests: the real Node BullMQ client
//! (tests/bullmq-node, installed by `npm ci`) as a producer and a worker,
//! on the local Redis under a key prefix of the test's own.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const REDIS: &str = "redis://127.0.0.1:6379/0";

fn peer_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bullmq-node");
    assert!(
        dir.join("node_modules/bullmq").is_dir(),
        "the Node BullMQ peer is not installed: run `npm ci --prefix tests/bullmq-node` (Node 18+)"
    );
    dir
}

/// A BullMQ namespace of the test's own on one Redis.
pub struct Bull {
    pub url: String,
    pub prefix: String,
}

impl Bull {
    pub fn new() -> Bull {
        Bull::on(REDIS)
    }

    pub fn on(url: &str) -> Bull {
        Bull {
            url: url.to_owned(),
            prefix: format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]),
        }
    }

    pub fn config(&self) -> sowat_admin::config::JobsConfig {
        sowat_admin::config::JobsConfig {
            redis_url: Some(self.url.clone()),
            prefix: self.prefix.clone(),
            queues: vec!["articleQueue".into(), "social-media-post".into()],
            alert_every: std::time::Duration::from_secs(1),
        }
    }

    /// Adds jobs with Node's `Queue.add`; their ids.
    pub async fn produce(&self, queue: &str, jobs: Value) -> Vec<String> {
        let out = Command::new("node")
            .current_dir(peer_dir())
            .args([
                "peer.js",
                "produce",
                &self.url,
                &self.prefix,
                queue,
                &jobs.to_string(),
            ])
            .output()
            .await
            .expect("node runs (Node 18+ on the PATH)");
        assert!(
            out.status.success(),
            "the producer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// A Node worker on `queue`, ready to take jobs.
    pub async fn worker(&self, queue: &str) -> Worker {
        let mut child = Command::new("node")
            .current_dir(peer_dir())
            .args(["peer.js", "work", &self.url, &self.prefix, queue])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (Node 18+ on the PATH)");
        let stdout = child.stdout.take().expect("stdout");
        let mut w = Worker {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        };
        w.wait_for("ready", None).await;
        w
    }

    /// The raw Redis connection, to look at BullMQ's keys.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers on 127.0.0.1:6379")
    }

    /// Removes every key of the test's prefix.
    pub async fn clean(&self) {
        let mut conn = self.redis().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: Result<i64, _> = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await;
        }
    }
}

pub struct Worker {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Every event seen so far, in order.
    pub seen: Vec<Value>,
}

impl Worker {
    /// Waits (up to 20 s) for `event` (on job `id` when given).
    pub async fn wait_for(&mut self, event: &str, id: Option<&str>) -> Value {
        let matches = |v: &Value| v["event"] == event && id.is_none_or(|id| v["id"] == id);
        if let Some(v) = self.seen.iter().find(|v| matches(v)) {
            return v.clone();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no {event} {id:?} from the Node worker within 20 s; saw {:?}",
                        self.seen
                    )
                })
                .expect("read the worker")
                .expect("the worker is running");
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            self.seen.push(v.clone());
            if matches(&v) {
                return v;
            }
        }
    }

    /// How many `event`s were seen for job `id` within `wait`.
    pub async fn count_within(&mut self, event: &str, id: &str, wait: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout_at(deadline, self.lines.next_line()).await
        {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                self.seen.push(v);
            }
        }
        self.seen
            .iter()
            .filter(|v| v["event"] == event && v["id"] == id)
            .count()
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A job for the peer: what it does comes from its data.
pub fn job(name: &str, data: Value, opts: Value) -> Value {
    json!({ "name": name, "data": data, "opts": opts })
}
