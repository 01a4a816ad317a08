// The sowat.io side of the jobs tests, with the real Node BullMQ client:
//
//   node peer.js produce <redis-url> <prefix> <queue> '<json list of jobs>'
//     adds each {name, data, opts} and prints one line per job: {"id": …}
//   node peer.js work <redis-url> <prefix> <queue>
//     a worker printing one JSON line per event ({"event":"completed","id":…});
//     what a job does comes from its data:
//       {"mode":"ok"}                  logs two lines, returns {"words": 120}
//       {"mode":"fail","error":"…"}    logs a line, throws Error(error)
//       {"mode":"fail_until","ok_at":N} fails until attempt N, then succeeds
//       {"mode":"slow","ms":N}         waits N ms, then succeeds
//     It stops on SIGTERM after closing the worker.
"use strict";

const { Queue, Worker } = require("bullmq");
const IORedis = require("ioredis");

function connection(url) {
  // BullMQ's workers require maxRetriesPerRequest null (blocking commands).
  return new IORedis(url, { maxRetriesPerRequest: null });
}

async function produce(url, prefix, queueName, list) {
  const redis = connection(url);
  const queue = new Queue(queueName, { connection: redis, prefix });
  for (const job of JSON.parse(list)) {
    const added = await queue.add(job.name, job.data || {}, job.opts || {});
    process.stdout.write(JSON.stringify({ id: added.id }) + "\n");
  }
  await queue.close();
  await redis.quit();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function work(url, prefix, queueName) {
  const worker = new Worker(
    queueName,
    async (job) => {
      const data = job.data || {};
      await job.log(`started attempt ${job.attemptsMade + 1}`);
      switch (data.mode) {
        case "fail":
          await job.log("calling the model");
          throw new Error(data.error || "generation failed");
        case "fail_until":
          if (job.attemptsMade + 1 < data.ok_at) {
            throw new Error(data.error || `attempt ${job.attemptsMade + 1} failed`);
          }
          return { words: 80 };
        case "slow":
          await sleep(data.ms || 1000);
          return { words: 10 };
        default:
          await job.log("article written");
          return { words: 120 };
      }
    },
    { connection: connection(url), prefix, concurrency: 4 },
  );
  const say = (event, job, extra) =>
    process.stdout.write(JSON.stringify({ event, id: job && job.id, ...extra }) + "\n");
  worker.on("completed", (job) => say("completed", job));
  worker.on("failed", (job, err) => say("failed", job, { error: err.message }));
  worker.on("ready", () => say("ready", null));
  worker.on("paused", () => say("paused", null));
  worker.on("error", (err) => process.stderr.write(`worker error: ${err.message}\n`));
  const stop = async () => {
    await worker.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

const [mode, url, prefix, queueName, list] = process.argv.slice(2);
const run = mode === "produce" ? produce(url, prefix, queueName, list) : work(url, prefix, queueName);
run.catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
