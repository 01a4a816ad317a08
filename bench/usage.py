"""Usage metering benchmark: POST /api/v1/usage/consume at 64 connections
with an API key, each call for a random user among 10,000 and with its own
idempotency key, then the check that matters more than the speed: the
counters grew by exactly the number of calls answered 200 (no call counted
twice, none lost), and the ledger holds one counted event for each.

Signs in as the bench administrator (see common.py), creates a plan with
limits no call reaches and makes it the default for the run (the previous
default is put back at the end), creates a key with usage:write, and runs
wrk with bench/usage.lua.
"""
import html, os, re, subprocess, sys, time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import BASE, Page, call, sign_in, sql  # noqa: E402

CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "64")
USERS = 10_000


def post(path, fields):
    """A form post as the screens send it (the token from any page: the
    sign-out form carries it)."""
    _, _, page = call("/admin/plans")
    return call(path, {"_csrf": Page(page).csrf, **fields})


def main():
    sign_in()
    before_default = sql("SELECT id FROM plans WHERE is_default")
    code = f"bench-{int(time.time())}"
    status, headers, _ = post("/admin/plans", {
        "code": code, "name": "Bench", "price": "0", "currency": "eur", "interval": "month",
        "limit_articles": "4000000000", "limit_images": "0", "limit_social_posts": "0", "active": "on",
    })
    m = re.match(r"/admin/plans/(\d+)", headers.get("location", ""))
    if status != 303 or not m:
        sys.exit(f"could not create the bench plan ({status})")
    plan = m.group(1)
    post(f"/admin/plans/{plan}/default", {})
    try:
        run(code)
    finally:
        post(f"/admin/plans/{before_default}/default", {})
        post(f"/admin/plans/{plan}/archive", {})


def run(code):
    _, _, form = call("/admin/api-keys/new")
    status, _, body = call("/admin/api-keys", {
        "_csrf": Page(form).csrf, "name": f"usage {code}", "client_id": "bench",
        "owner": os.environ["BENCH_EMAIL"], "scopes": "usage:write",
        "rate": "1000000", "quota": "1000000000",
    })
    m = re.search(r'id="api-key-secret" class="secret">([^<]+)<', body)
    if status != 200 or not m:
        sys.exit(f"could not create a key ({status})")
    key = html.unescape(m.group(1))
    lo, hi = sql(
        "SELECT min(id) || ' ' || max(id) FROM (SELECT u.id FROM users u LEFT JOIN subscriptions s "
        "ON s.user_id = u.id WHERE u.deleted_at IS NULL AND s.id IS NULL ORDER BY u.id LIMIT %d) t" % USERS
    ).split()
    deleted = int(sql(f"SELECT count(*) FROM users WHERE id BETWEEN {lo} AND {hi} AND deleted_at IS NOT NULL"))
    period = time.strftime("%Y-%m", time.gmtime())
    counted = lambda: int(sql(
        f"SELECT coalesce(sum(articles), 0) FROM usage_counters WHERE period = '{period}' AND user_id BETWEEN {lo} AND {hi}"))
    ledger = lambda: int(sql(f"SELECT count(*) FROM usage_events WHERE idempotency_key LIKE '{code}-%' AND counted"))
    script = os.path.join(os.path.dirname(__file__), "usage.lua")
    before = counted()
    print(f"\nPOST /api/v1/usage/consume, {CONNECTIONS} connections, {common.DURATION}, "
          f"users {lo}..{hi} ({deleted} deleted in the range answer 404)")
    print(f"{'run':<10} {'calls/s':>9} {'p50':>9} {'p99':>9} {'200':>9} {'429':>6} {'other':>6}")
    ok_total = 0
    for label, duration in (("warm-up", common.WARMUP), ("measured", common.DURATION)):
        out = subprocess.run(
            ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", "-s", script,
             BASE + "/api/v1/usage/consume", "--", lo, hi, f"{code}-{label}", key],
            capture_output=True, text=True, check=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
        ok, refused, other = map(int, re.search(r"STATUS ok=(\d+) refused=(\d+) other=(\d+)", out).groups())
        ok_total += ok
        print(f"{label:<10} {rps:>9.0f} {pct.get('50', '?'):>9} {pct.get('99', '?'):>9} {ok:>9} {refused:>6} {other:>6}")
    grown, events = counted() - before, ledger()
    # wrk stops mid-flight: up to one call per connection and run is
    # counted by the server but its answer never read by wrk.
    in_flight = 2 * int(CONNECTIONS)
    verdict = "OK" if grown == events and ok_total <= grown <= ok_total + in_flight else "MISMATCH"
    print(f"\ncounters grew by {grown}, the ledger holds {events} counted calls, wrk read {ok_total} "
          f"answers 200 (+ at most {in_flight} cut in flight): {verdict}")
    if verdict != "OK":
        sys.exit(1)


if __name__ == "__main__":
    main()
