#!/usr/bin/env python3
"""Benchmark of the users screens against a running instance seeded with
`sowat-admin seed --bench --users N`: each scenario's page is first checked
against the database (its first row is the one SQL says), then measured
with wrk next to a static asset of the same binary.

    BENCH_EMAIL=… BENCH_PASSWORD=… BENCH_TOTP=… BENCH_DB=… bench/users.sh [http://127.0.0.1:8080]

BENCH_DEPTH (500000): the row the deep page starts after. See common.py.
"""
import base64, datetime, os, sys, urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from common import check, get_page, run_scenarios, sign_in, sql  # noqa: E402

DEPTH = int(os.environ.get("BENCH_DEPTH", "500000"))
ORDER = "ORDER BY created_at DESC, id DESC"
LIVE = "deleted_at IS NULL"


def nanos(stamp):
    """A stored UTC timestamp as nanoseconds since 1970 (the cursor's key)."""
    day, _, frac = stamp.partition(".")
    t = datetime.datetime.fromisoformat(day.replace(" ", "T")).replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


def cursor(user_id, key):
    raw = f"{user_id}\x1f1\x1f{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def main():
    cookie = sign_in()
    users = int(sql(f"SELECT count(*) FROM users WHERE {LIVE}"))
    depth = min(DEPTH, users // 2)
    first = get_page("/admin/users?size=100")
    check("first page", first.row_ids[0], int(sql(f"SELECT id FROM users WHERE {LIVE} {ORDER} LIMIT 1")))
    filtered = "status=SUSPENDED&type=INTERNAL"
    page = get_page(f"/admin/users?{filtered}&size=100")
    expected = sql(f"SELECT id FROM users WHERE {LIVE} AND status = 'SUSPENDED' AND user_type = 'INTERNAL' {ORDER} LIMIT 1")
    check("filtered page", page.row_ids[0], int(expected))
    some_id = first.row_ids[len(first.row_ids) // 2]
    email = sql(f"SELECT email FROM users WHERE id = {some_id}")
    local = email.split("@")[0]
    fragment = local[:10]
    inside = local.replace("_", ".").split(".")[-1][1:6]
    common_word = "atelier"
    matches = int(sql(f"SELECT count(*) FROM users WHERE {LIVE} AND lower(company) LIKE '%{common_word}%'"))
    # The deep page: built from the row before it, as the link would be.
    before = sql(f"SELECT id || '|' || created_at FROM users WHERE {LIVE} {ORDER} LIMIT 1 OFFSET {depth - 1}")
    before_id, before_at = before.split("|", 1)
    deep = f"/admin/users?size=100&after={cursor(before_id, nanos(before_at))}&start={depth + 1}"
    deep_page = get_page(deep)
    at_depth = int(sql(f"SELECT id FROM users WHERE {LIVE} {ORDER} LIMIT 1 OFFSET {depth}"))
    check(f"page at row {depth + 1:,}", deep_page.row_ids[0], at_depth)
    # Its previous link leads to the page ending with the row before it.
    previous = get_page(deep_page.links["prev-page"])
    check("previous of the deep page", previous.row_ids[-1], int(before_id))
    for label, path in [("search", fragment), ("inside", inside), ("email", email), ("common", common_word)]:
        if not get_page("/admin/users?size=100&q=" + urllib.parse.quote(path)).row_ids:
            sys.exit(f"{label} search ({path}) finds nothing")
    # The common word's first row: the newest user with a key starting with it.
    common_page = get_page("/admin/users?size=100&q=" + common_word)
    newest = sql(f"SELECT id FROM users WHERE {LIVE} AND search_keys LIKE '%\"{common_word}%' {ORDER} LIMIT 1")
    check(f"common word ({common_word})", common_page.row_ids[0], int(newest))
    print(f"{users:,} users; deep page at row {depth + 1:,}; '{common_word}' matches {matches:,} companies")
    run_scenarios(cookie, [
        ("first page (100 rows)", "/admin/users?size=100"),
        ("filtered page (suspended, internal)", f"/admin/users?{filtered}&size=100"),
        ("its count", f"/admin/users/count?{filtered}"),
        (f"common word ({common_word})", f"/admin/users?size=100&q={common_word}"),
        (f"rare fragment ({fragment})", "/admin/users?size=100&q=" + urllib.parse.quote(fragment)),
        (f"inside a word ({inside})", "/admin/users?size=100&q=" + urllib.parse.quote(inside)),
        ("exact email", "/admin/users?size=100&q=" + urllib.parse.quote(email)),
        (f"page at row {depth + 1:,} (cursor)", deep),
        ("its previous page", deep_page.links["prev-page"]),
        ("user page", f"/admin/users/{some_id}"),
    ])


if __name__ == "__main__":
    main()
