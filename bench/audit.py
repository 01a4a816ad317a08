#!/usr/bin/env python3
"""Benchmark of the audit trail against a running instance seeded with
`sowat-admin seed --bench` (two audit events per user): unfiltered and under
each filter, each page checked against the database first (its first row is
the newest matching event), then measured with wrk next to a static asset.

    BENCH_EMAIL=… BENCH_PASSWORD=… BENCH_TOTP=… BENCH_DB=… bench/audit.sh [http://127.0.0.1:8080]
"""
import os, sys

sys.path.insert(0, os.path.dirname(__file__))
from common import check, get_page, run_scenarios, sign_in, sql  # noqa: E402


def main():
    cookie = sign_in()
    events = int(sql("SELECT count(*) FROM audit_events"))
    actor = sql("SELECT actor_id FROM audit_events WHERE action = 'user.status_changed' ORDER BY id DESC LIMIT 1")
    target = sql("SELECT target_id FROM audit_events WHERE action = 'auth.sign_in' ORDER BY id DESC LIMIT 1 OFFSET 10")
    scenarios = [
        ("audit, unfiltered", "", "TRUE"),
        ("by action (status changed)", "action=user.status_changed", "action = 'user.status_changed'"),
        ("by actor", f"actor={actor}", f"actor_id = {actor}"),
        ("by target", f"target_type=user&target_id={target}", f"target_type = 'user' AND target_id = '{target}'"),
        ("denied only", "outcome=denied", "outcome = 'denied'"),
        ("one month", "from=2025-06-01&to=2025-06-30", "at >= '2025-06-01' AND at < '2025-07-01'"),
        # Issue 16's filters: an address, a network (16 of the seed's 250
        # addresses), an app of origin, a kind of actor, words in the details
        # (a common one: a tenth of the events; a rarer one: one in fifty; a
        # word's start, which both engines expand before reading).
        ("by address", "ip=198.51.100.77", "ip = '198.51.100.77'"),
        ("by network /28", "ip=198.51.100.16%2F28",
         "ip_key >= '00000000000000000000ffffc6336410' AND ip_key <= '00000000000000000000ffffc633641f'"),
        ("by app (admin-ui)", "client=admin-ui", "client_id = 'admin-ui'"),
        ("anonymous actors", "actor_type=anonymous", "actor_type = 'anonymous'"),
        ("words: unpaid", "q=unpaid", "lower(details) LIKE '%unpaid%'"),
        ("words: permission", "q=permission", "lower(details) LIKE '%permission%'"),
        ("word start: unpai*", "q=unpai*", "lower(details) LIKE '%unpai%'"),
        ("words + outcome", "q=permission&outcome=denied", "lower(details) LIKE '%permission%' AND outcome = 'denied'"),
    ]
    measured = []
    for name, query, where in scenarios:
        path = "/admin/audit" + (f"?{query}" if query else "")
        page = get_page(path)
        expected = sql(f"SELECT id FROM audit_events WHERE {where} ORDER BY id DESC LIMIT 1")
        check(name, page.row_ids[0] if page.row_ids else None, int(expected) if expected else None)
        measured.append((name, path))
    print(f"{events:,} audit events")
    run_scenarios(cookie, measured)


if __name__ == "__main__":
    main()
