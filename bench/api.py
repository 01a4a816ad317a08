"""Machine API benchmark: an authenticated GET /api/v1/users/{id} (key
check, rate and quota counting, lookup) at 32 connections, next to the
static asset and to a wrong key (the key check alone, answered 401).

Signs in as the bench administrator (see common.py), creates a key with
the rate limit raised through the API keys screen, checks the API's answer
against the database, then runs wrk with the key.
"""
import json, os, re, html, sys, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("BENCH_CONNECTIONS", "32")
import common  # noqa: E402
from common import BASE, Page, call, check, run_scenarios, sign_in, sql  # noqa: E402


def main():
    cookie = sign_in()
    _, _, form = call("/admin/api-keys/new")
    status, _, body = call("/admin/api-keys", {
        "_csrf": Page(form).csrf, "name": "bench", "client_id": "bench",
        "owner": os.environ["BENCH_EMAIL"], "scopes": "users:read",
        "rate": "1000000", "quota": "1000000000",
    })
    m = re.search(r'id="api-key-secret" class="secret">([^<]+)<', body)
    if status != 200 or not m:
        sys.exit(f"could not create a key ({status})")
    key = html.unescape(m.group(1))
    user_id = int(sql("SELECT max(id) FROM users WHERE deleted_at IS NULL")) // 2
    req = urllib.request.Request(f"{BASE}/api/v1/users/{user_id}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        shown = json.loads(r.read())
    check("API user", shown["email"], sql(f"SELECT email FROM users WHERE id = {user_id}"))
    run_scenarios(cookie, [
        (f"GET /api/v1/users/{{id}} ({common.CONNECTIONS} conns)", f"/api/v1/users/{user_id}"),
    ], header=f"Authorization: Bearer {key}")
    run_scenarios(cookie, [
        ("wrong key (401)", f"/api/v1/users/{user_id}"),
    ], header="Authorization: Bearer sowat_live_wrong")
    # What the key check and the lookup add to one request, without
    # queueing: one connection, the API call against the static asset.
    auth = f"Authorization: Bearer {key}"
    _, static_p50, _, _ = common.wrk(cookie, common.static_asset(), auth, connections=1)
    _, api_p50, _, _ = common.wrk(cookie, f"/api/v1/users/{user_id}", auth, connections=1)
    added = ms(api_p50) - ms(static_p50)
    print(f"\none connection, p50: static asset {static_p50}, API call {api_p50}: "
          f"the key check and the lookup add {added:.2f} ms")


def ms(figure):
    """wrk's latency figure ("812.00us", "1.20ms", "1.01s") in milliseconds."""
    value, unit = re.match(r"([\d.]+)(\w+)", figure).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


if __name__ == "__main__":
    main()
