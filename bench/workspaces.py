#!/usr/bin/env python3
"""Benchmark of the workspace screens against a running instance seeded with
`sowat-admin seed --bench --users N` (N/5 workspaces up to 20,000, ten
memberships per user up to 1,000,000, `club-1` with 5,000 members): the
workspaces list (first page, deep page, search), the page of the
5,000-member workspace (first and deep member page) and the users list
filtered by that workspace. Each page is first checked against the
database (its first row is the one SQL says), then measured with wrk next
to a static asset of the same binary.

    BENCH_EMAIL=… BENCH_PASSWORD=… BENCH_TOTP=… BENCH_DB=… bench/workspaces.sh [http://127.0.0.1:8080]
"""
import os, sys, urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from common import check, get_page, run_scenarios, sign_in, sql  # noqa: E402

LIVE = "deleted_at IS NULL AND archived_at IS NULL"


def main():
    cookie = sign_in()
    spaces = int(sql(f"SELECT count(*) FROM workspaces WHERE {LIVE}"))
    members = int(sql("SELECT count(*) FROM workspace_members"))
    big = int(sql("SELECT id FROM workspaces WHERE slug = 'club-1'"))
    big_members = int(sql(f"SELECT count(*) FROM workspace_members WHERE workspace_id = {big}"))
    scenarios = []

    first = get_page("/admin/workspaces")
    check("workspaces, first page", first.row_ids[0], int(sql(f"SELECT id FROM workspaces WHERE {LIVE} ORDER BY name, id LIMIT 1")))
    scenarios.append(("workspaces, first page", "/admin/workspaces"))

    depth = spaces // 2
    name, wid = sql(f"SELECT name || '|' || id FROM workspaces WHERE {LIVE} ORDER BY name, id LIMIT 1 OFFSET {depth - 1}").rsplit("|", 1)
    deep = "/admin/workspaces?" + urllib.parse.urlencode({"after_name": name, "after": wid})
    page = get_page(deep)
    check(f"workspaces after row {depth:,}", page.row_ids[0], int(sql(f"SELECT id FROM workspaces WHERE {LIVE} ORDER BY name, id LIMIT 1 OFFSET {depth}")))
    scenarios.append((f"workspaces after row {depth:,}", deep))

    search = "/admin/workspaces?q=club+123"
    page = get_page(search)
    check("workspaces, search", page.row_ids[0], int(sql(f"SELECT id FROM workspaces WHERE {LIVE} AND lower(name) LIKE '%club 123%' ORDER BY name, id LIMIT 1")))
    scenarios.append(("workspaces, search 'club 123'", search))

    order = "ORDER BY role, user_id"
    path = f"/admin/workspaces/{big}"
    page = get_page(path)
    check(f"workspace of {big_members:,}, members page 1", page.row_ids[0], int(sql(f"SELECT user_id FROM workspace_members WHERE workspace_id = {big} {order} LIMIT 1")))
    scenarios.append((f"workspace of {big_members:,} members", path))

    mid = big_members // 2
    role, uid = sql(f"SELECT role || '|' || user_id FROM workspace_members WHERE workspace_id = {big} {order} LIMIT 1 OFFSET {mid - 1}").split("|")
    deep_members = f"{path}?after_role={role}&after={uid}"
    page = get_page(deep_members)
    check(f"its members after row {mid:,}", page.row_ids[0], int(sql(f"SELECT user_id FROM workspace_members WHERE workspace_id = {big} {order} LIMIT 1 OFFSET {mid}")))
    scenarios.append((f"its members after row {mid:,}", deep_members))

    users = "/admin/users?size=100&workspace=club-1"
    page = get_page(users)
    expected = sql(f"SELECT id FROM users WHERE deleted_at IS NULL AND id IN (SELECT user_id FROM workspace_members WHERE workspace_id = {big}) ORDER BY created_at DESC, id DESC LIMIT 1")
    check("users of club-1", page.row_ids[0], int(expected))
    scenarios.append(("users list, workspace club-1", users))

    print(f"{spaces:,} live workspaces, {members:,} memberships")
    run_scenarios(cookie, scenarios)


if __name__ == "__main__":
    main()
