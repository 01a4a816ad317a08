#!/usr/bin/env python3
"""Benchmark of the jobs screens and the failure index against a running
release build whose BullMQ settings point at a prefix of the benchmark's
own (SOWAT_REDIS_URL, SOWAT_BULLMQ_PREFIX=benchbull):

1. fills BullMQ with BENCH_FAILED (100,000) failed jobs in `articleQueue`,
   written as BullMQ writes them (job hash, `failed` sorted set);
2. fills the index with BENCH_INDEXED (1,000,000) failures over 500 errors;
3. measures the index's ingestion: BENCH_EVENTS (50,000) events appended to
   the queue's stream (a job's added, waiting, active, then completed or
   failed), timed from the first append until the cursor reaches the last;
4. runs wrk at BENCH_CONNECTIONS (16) on the overview, the failed list's
   first and a deep page, a job page, and a failure search by error text.

    BENCH_EMAIL=… BENCH_PASSWORD=… BENCH_TOTP=… BENCH_DB=… BENCH_REDIS=redis://127.0.0.1:6379/0 \\
      bench/jobs.sh [http://127.0.0.1:8080]
"""
import json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from common import call, check, get_page, run_scenarios, sign_in, sql  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("BENCH_PREFIX", "benchbull")
QUEUE = "articleQueue"
FAILED = int(os.environ.get("BENCH_FAILED", "100000"))
INDEXED = int(os.environ.get("BENCH_INDEXED", "1000000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "50000"))


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def pipe(commands):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        for c in commands:
            f.write(resp(*c))
        name = f.name
    with open(name, "rb") as f:
        out = subprocess.run(["redis-cli", "-u", REDIS, "--pipe"], stdin=f, capture_output=True, text=True)
    os.unlink(name)
    if "errors: 0" not in out.stdout:
        sys.exit(f"redis-cli --pipe: {out.stdout}{out.stderr}")


def redis(*args):
    return subprocess.run(["redis-cli", "-u", REDIS, *map(str, args)], capture_output=True, text=True, check=True).stdout.strip()


def key(*parts):
    return ":".join([PREFIX, QUEUE, *map(str, parts)])


STACK = "Error: {m}\n    at Worker.processFn (/app/worker.js:45:17)\n    at async /app/node_modules/bullmq/dist/cjs/classes/worker.js:595:32"


def job_hash(i, now_ms, failed=True, message=None):
    message = message or f"OpenAI timeout after {30000 + i % 997}ms"
    fields = {
        "name": "generate",
        "data": json.dumps({"userId": 1 + i % 5000, "articleId": i, "prompt": "x" * 200}),
        "opts": json.dumps({"attempts": 3, "backoff": {"type": "exponential", "delay": 1000}}),
        "timestamp": now_ms - 60_000, "delay": 0, "priority": 0,
        "processedOn": now_ms - 30_000, "finishedOn": now_ms - 1_000, "atm": 3, "ats": 3,
    }
    if failed:
        fields["failedReason"] = message
        fields["stacktrace"] = json.dumps([STACK.format(m=message)] * 3)
    else:
        fields["returnvalue"] = json.dumps({"words": 120})
    flat = []
    for k, v in fields.items():
        flat += [k, v]
    return flat


def fill_bullmq():
    have = int(redis("ZCARD", key("failed")) or 0)
    if have >= FAILED:
        print(f"BullMQ already holds {have:,} failed jobs")
        return
    now = int(time.time() * 1000)
    cmds = []
    for i in range(have + 1, FAILED + 1):
        cmds.append(["HSET", key(i), *job_hash(i, now)])
        cmds.append(["ZADD", key("failed"), now - (FAILED - i), i])
    cmds.append(["SET", key("id"), FAILED])
    t = time.time()
    pipe(cmds)
    print(f"BullMQ: {FAILED:,} failed jobs written in {time.time() - t:.1f} s")


def fill_index():
    have = int(sql("SELECT count(*) FROM job_failures"))
    if have >= INDEXED:
        print(f"the index already holds {have:,} failures")
        return
    pg = not os.environ.get("BENCH_DB", "sqlite://").startswith("sqlite://")
    t = time.time()
    errors = (
        "INSERT INTO job_errors (queue, fingerprint, message, failures, first_at, last_at) "
        "SELECT 'articleQueue', 'bench error #' || n, 'bench error ' || n || ': upstream refused', {per}, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM {series} "
        "ON CONFLICT DO NOTHING"
    )
    rows = (
        "INSERT INTO job_failures (queue, job_id, job_name, user_id, error_id, message, stacktrace, attempt, "
        "failed_at, job_created_at, payload, dedupe) "
        "SELECT CASE WHEN n % 2 = 0 THEN 'articleQueue' ELSE 'social-media-post' END, 'b' || n, "
        "CASE WHEN n % 3 = 0 THEN 'publish' ELSE 'generate' END, 1 + n % 20000, "
        "(SELECT min(id) FROM job_errors WHERE fingerprint LIKE 'bench error #%') + n % 500, "
        "'bench error ' || (n % 500) || ': upstream refused', NULL, 1 + n % 3, "
        "{at}, NULL, '{{\"userId\":' || (1 + n % 20000) || ',\"articleId\":' || n || '}}', 'bench:' || n "
        "FROM {series} ON CONFLICT DO NOTHING"
    )
    if pg:
        sql(errors.format(per=INDEXED // 500, series="generate_series(0, 499) AS n"))
        sql(rows.format(series=f"generate_series(1, {INDEXED}) AS n", at="now() - (n || ' seconds')::interval"))
    else:
        sql(errors.format(per=INDEXED // 500, series="(WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 499) SELECT n FROM s)"))
        sql(rows.format(series=f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {INDEXED}) SELECT n FROM s)",
                        at="datetime('now', '-' || n || ' seconds')"))
    print(f"index: {INDEXED:,} failures written in {time.time() - t:.1f} s")


def ingest():
    """Appends EVENTS events (a job each 4: added, waiting, active, then
    completed, or failed one time in ten) and times the follower."""
    base = 10_000_000
    now = int(time.time() * 1000)
    jobs, cmds = EVENTS // 4, []
    for j in range(jobs):
        i = base + j
        failed = j % 10 == 0
        cmds.append(["HSET", key(i), *job_hash(i, now, failed=failed, message=f"Render crashed on page {j % 7}")])
    pipe(cmds)
    cmds = []
    for j in range(jobs):
        i = base + j
        last = ["failed", "failedReason", "Render crashed", "prev", "active"] if j % 10 == 0 else ["completed", "returnvalue", "{}", "prev", "active"]
        for ev in (["added", "name", "generate"], ["waiting"], ["active", "prev", "waiting"], last):
            cmds.append(["XADD", key("events"), "*", "event", ev[0], "jobId", i, *ev[1:]])
    last_id = None
    t = time.time()
    pipe(cmds)
    last_id = redis("XREVRANGE", key("events"), "+", "-", "COUNT", 1).splitlines()[0]
    while True:
        cursor = sql(f"SELECT last_id FROM job_stream_cursors WHERE queue = '{QUEUE}'")
        if cursor == last_id:
            break
        if time.time() - t > 600:
            sys.exit(f"the follower did not reach {last_id} within 10 minutes (at {cursor})")
        time.sleep(0.05)
    took = time.time() - t
    print(f"ingestion: {jobs * 4:,} events in {took:.2f} s = {jobs * 4 / took:,.0f} events/s")


def main():
    cookie = sign_in()
    fill_bullmq()
    fill_index()
    ingest()
    newest = redis("ZREVRANGE", key("failed"), 0, 0)
    deep_page = FAILED // 50 - 1
    _, _, text = call(f"/admin/jobs/{QUEUE}/failed")
    check("failed list, first page shows the newest failed job", f'data-id="{newest}"' in text, True)
    _, _, text = call(f"/admin/jobs/{QUEUE}/failed?page={deep_page}")
    check(f"failed list, page {deep_page} has rows", 'data-id="' in text, True)
    search = get_page("/admin/jobs/failures?q=bench+error+42%3A")
    expected = sql("SELECT max(f.id) FROM job_failures f JOIN job_errors e ON e.id = f.error_id "
                   "WHERE lower(e.message) LIKE '%bench error 42:%'")
    check("failure search", search.row_ids[0] if search.row_ids else None, int(expected) if expected else None)
    print(f"{int(redis('ZCARD', key('failed'))):,} failed jobs in BullMQ, "
          f"{int(sql('SELECT count(*) FROM job_failures')):,} failures indexed")
    run_scenarios(cookie, [
        ("jobs overview", "/admin/jobs"),
        ("failed list, first page", f"/admin/jobs/{QUEUE}/failed"),
        (f"failed list, page {deep_page:,}", f"/admin/jobs/{QUEUE}/failed?page={deep_page}"),
        ("job page", f"/admin/jobs/{QUEUE}/job/{newest}"),
        ("failure search by error text", "/admin/jobs/failures?q=bench+error+42%3A"),
    ])


if __name__ == "__main__":
    main()
