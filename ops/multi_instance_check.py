"""Checks several sowat-admin instances through their load balancer.

Called by ops/multi-instance.sh with: BASE_URL ADMIN1_FILE ADMIN2_FILE DB_URL.
Standard library only. Prints one line per check; exits 1 on the first
failure with what was seen.
"""

import base64
import hashlib
import hmac
import http.cookiejar
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, ADMIN1, ADMIN2, DB_URL = sys.argv[1:5]


def fail(message):
    print(f"FAIL  {message}")
    sys.exit(1)


def ok(message):
    print(f"ok    {message}")


def credentials(path):
    text = open(path, encoding="utf-8").read()
    found = dict(re.findall(r"^\s+(email|password|totp):\s+(\S+)$", text, re.M))
    if len(found) != 3:
        fail(f"no bench administrator in {path}: {text!r}")
    return found


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    step = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie jar and no automatic redirects, like the tests' client."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(self, method, path, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
        try:
            res = self.opener.open(req, timeout=10)
        except urllib.error.HTTPError as e:
            res = e
        body = res.read().decode("utf-8", "replace")
        return res.status, {k.lower(): v for k, v in res.headers.items()}, body

    def token(self, path):
        status, _, body = self.request("GET", path)
        match = re.search(r'name="_csrf" value="([^"]+)"', body)
        if not match:
            fail(f"no form token on {path} ({status})")
        return match.group(1)

    def post(self, path, form, token_from=None):
        form = dict(form, _csrf=self.token(token_from or path))
        return self.request("POST", path, form)

    def session_cookie(self):
        return next((c for c in self.jar if c.name.endswith("sowat_session")), None)


def sql(query):
    out = subprocess.run(["psql", DB_URL, "-qtAc", query], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def sign_in(browser, who):
    status, headers, _ = browser.post("/login", {"email": who["email"], "password": who["password"], "next": "/admin"})
    if status != 303 or not headers.get("location", "").startswith("/login/totp"):
        fail(f"password step for {who['email']}: {status} {headers.get('Location')}")
    status, headers, _ = browser.post("/login/totp", {"code": totp(who["totp"]), "next": "/admin"}, "/login/totp?next=%2Fadmin")
    if status != 303:
        fail(f"TOTP step for {who['email']}: {status}")


def instances_seen(browser, path, times=9):
    seen, statuses = set(), set()
    for _ in range(times):
        status, headers, _ = browser.request("GET", path)
        seen.add(headers.get("x-sowat-instance"))
        statuses.add(status)
    return seen, statuses


admin1, admin2 = credentials(ADMIN1), credentials(ADMIN2)

# 1. Sign in with TOTP, then browse: every instance serves the session.
alice = Browser()
sign_in(alice, admin1)
seen, statuses = instances_seen(alice, "/admin/users")
if statuses != {200} or seen != {"a", "b", "c"}:
    fail(f"browsing after sign-in: statuses {statuses}, instances {seen}")
ok("signed in with TOTP; pages served by instances a, b and c with one session")

# 2. A role change made through one instance holds on all within a second.
bob = Browser()
sign_in(bob, admin2)
seen, statuses = instances_seen(bob, "/admin/users/new", 6)
if statuses != {200}:
    fail(f"second administrator before the change: {statuses}")
bob_id = sql(f"SELECT id FROM users WHERE email = '{admin2['email']}'")
status, _, _ = alice.post(f"/admin/users/{bob_id}/roles", {"role": "admin", "op": "remove"}, f"/admin/users/{bob_id}")
if status not in (200, 303):
    fail(f"removing the Administrator role: {status}")
time.sleep(1)
seen, statuses = instances_seen(bob, "/admin/users/new", 6)
if 200 in statuses or len(seen) < 3:
    fail(f"after the role change: statuses {statuses} from {seen}")
ok(f"role removed through one instance: refused by all three within a second ({sorted(statuses)})")

# 3. A session ended on one instance is refused by the others.
# (Alice's session: a second sign-in within the same 30 s would replay the code.)
cookie = alice.session_cookie()
status, _, _ = alice.post("/logout", {}, "/admin")
if status != 303:
    fail(f"sign-out: {status}")
replay = Browser()
replay.jar.set_cookie(cookie)
seen, statuses = instances_seen(replay, "/admin", 6)
if statuses != {303} or len(seen) < 3:
    fail(f"the ended session, replayed: {statuses} from {seen}")
ok("a session ended on one instance is refused by every instance")

# 4. Lockout counted across instances: five failures, wherever they land.
dave = Browser()
email2 = admin2["email"]
for i in range(5):
    status, _, _ = dave.post("/login", {"email": email2, "password": f"wrong-{i}-password", "next": "/"})
    if status != 401:
        fail(f"bad password {i + 1}: {status}")
status, _, _ = dave.post("/login", {"email": email2, "password": admin2["password"], "next": "/"})
if status != 401:
    fail(f"right password after five failures on three instances: {status}, not locked")
locked = sql(f"SELECT count(*) FROM audit_events WHERE action = 'auth.sign_in_failed' AND details LIKE '%locked%' AND target_id = '{bob_id}'")
if locked != "1":
    fail(f"lockout audit rows: {locked}")
ok("five failures spread over three instances lock the account")

# 5. The per-address limit is one limit, not one per instance.
eve = Browser()
limited_at = None
for attempt in range(1, 46):
    status, _, _ = eve.post("/login", {"email": f"nobody{attempt}@example.test", "password": "whatever-password", "next": "/"})
    if status == 429:
        limited_at = attempt
        break
if limited_at is None:
    fail("45 sign-in attempts from one address through three instances: never 429")
ok(f"per-address sign-in limit shared by the instances: 429 at attempt {limited_at} of this flood")

# 6. Housekeeping runs once: a user deleted 31 days ago is purged by one instance.
victim = sql("SELECT min(id) FROM users WHERE email NOT LIKE 'bench-admin%'")
sql(f"UPDATE users SET deleted_at = (now() at time zone 'utc') - interval '31 days' WHERE id = {victim}")
deadline = time.time() + 15
while time.time() < deadline:
    purged = sql(f"SELECT count(*) FROM audit_events WHERE action = 'user.purged' AND target_id = '{victim}'")
    if purged != "0":
        break
    time.sleep(0.5)
time.sleep(5)  # more rounds on every instance: still one purge
purged = sql(f"SELECT count(*) FROM audit_events WHERE action = 'user.purged' AND target_id = '{victim}'")
if purged != "1":
    fail(f"user {victim} purged {purged} times")
ok("housekeeping: the purge ran once across three instances")
print("multi-instance: all checks passed")
