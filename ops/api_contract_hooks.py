"""schemathesis hooks for ops/api-contract.sh: two API rules that no JSON
Schema can state would otherwise read as "a valid request refused". Both
refusals are covered by the Rust tests (tests/it/api.rs).

- A sync batch naming one address twice is refused (422: which row wins
  would be a guess). Generated batches get repeated addresses made
  distinct.
- An Idempotency-Key reused with another body is refused (422
  idempotency_conflict). A valid generated key is made specific to its
  body: the same key and body still replay, and are exercised here.
- A workspace route acts in the workspace its X-Workspace-Id names, which
  must be the path's: a valid generated header is set to the path's id
  (a missing or different one is refused with 400, tested in Rust).
"""
import hashlib
import json

import schemathesis


def distinct_addresses(body):
    if not isinstance(body, dict) or not isinstance(body.get("users"), list):
        return
    seen = set()
    for i, row in enumerate(body["users"]):
        if not isinstance(row, dict) or not isinstance(row.get("email"), str):
            continue
        email, n = row["email"], 0
        while email.strip().lower() in seen:
            n += 1
            email = f"d{i}x{n}{row['email'].strip()}"
        seen.add(email.strip().lower())
        row["email"] = email


def key_per_body(case):
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() != "idempotency-key" or not isinstance(value, str):
            continue
        # Invalid keys stay as they are: the checks expect them refused.
        if not 1 <= len(value) <= 255:
            continue
        # In the order sent: the API compares the bytes of the body.
        body = json.dumps(case.body, default=str).encode()
        headers[name] = value[:200] + "-" + hashlib.sha256(body).hexdigest()[:16]


def workspace_of_path(case):
    headers = case.headers or {}
    ws = (case.path_parameters or {}).get("id")
    if not case.path.startswith("/api/v1/workspaces/{id}") or not str(ws).lstrip("-").isdigit():
        return
    for name in list(headers):
        if name.lower() == "x-workspace-id" and isinstance(headers[name], (int, str)):
            if str(headers[name]).lstrip("-").isdigit():
                headers[name] = str(ws)


@schemathesis.hook
def before_call(context, case, kwargs):
    distinct_addresses(case.body)
    key_per_body(case)
    workspace_of_path(case)
