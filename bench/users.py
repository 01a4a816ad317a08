#!/usr/bin/env python3
"""Benchmark of the users screens against a running, seeded instance.

Signs in as the bench administrator printed by `sowat-admin seed --bench`,
then runs wrk (16 connections, 2 threads) on each scenario and prints req/s,
p50 and p99. Standard library only, plus the `wrk` binary.

    BENCH_EMAIL=... BENCH_PASSWORD=... BENCH_TOTP=... bench/users.sh [http://127.0.0.1:8080]
"""
import base64, hashlib, hmac, html.parser, http.cookiejar, os, re, struct, subprocess, sys, time
import urllib.parse, urllib.request

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080").rstrip("/")
DURATION = os.environ.get("BENCH_DURATION", "10s")
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "16")
PAGES = int(os.environ.get("BENCH_PAGES", "10000"))


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32.strip().upper() + "=" * (-len(secret_b32.strip()) % 8))
    counter = int((at or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def call(path, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(urllib.request.Request(BASE + path, data=body)) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def csrf(page):
    m = re.search(r'name="_csrf" value="([^"]+)"', page)
    if not m:
        sys.exit("no CSRF token on the page")
    return m.group(1)


def sign_in():
    email, password, secret = (os.environ.get(k) for k in ("BENCH_EMAIL", "BENCH_PASSWORD", "BENCH_TOTP"))
    if not (email and password and secret):
        sys.exit("set BENCH_EMAIL, BENCH_PASSWORD and BENCH_TOTP (printed by `sowat-admin seed --bench`)")
    _, _, page = call("/login")
    status, headers, _ = call("/login", {"email": email, "password": password, "_csrf": csrf(page), "next": "/admin"})
    if status != 303 or "/login/totp" not in headers.get("location", ""):
        sys.exit(f"password step failed ({status})")
    _, _, page = call("/login/totp?next=/admin")
    status, headers, _ = call("/login/totp", {"code": totp(secret), "_csrf": csrf(page), "next": "/admin"})
    if status != 303:
        sys.exit(f"TOTP step failed ({status}); wait 30 s if the code was just used")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def ids_and_emails(page):
    return re.findall(r'<tr data-id="(\d+)">.*?<td class="col-email"><span class="clip" title="[^"]*">([^<]+)</span>', page, re.S)


def page_n(n, size=50):
    """The URL of page `n` of the default list, following the cursor links."""
    path = f"/admin/users?size={size}"
    started = time.time()
    for i in range(1, n):
        _, _, page = call(path)
        m = re.search(r'id="next-page"[^>]* href="([^"]+)"', page)
        if not m:
            sys.exit(f"the list ends at page {i}")
        # askama escapes & as &#38;: undo every entity, not just &amp;.
        path = html.unescape(m.group(1))
    print(f"  (walked {n - 1} pages in {time.time() - started:.1f} s)")
    return path


def wrk(cookie, path):
    run = lambda duration: subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", "-H", f"Cookie: {cookie}", BASE + path],
        capture_output=True, text=True, check=True,
    ).stdout
    # A short unmeasured run first: the figures are those of the scenario,
    # not of the switch from the previous one (cold pages, plan caches).
    run(WARMUP)
    out = run(DURATION)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct.get("50", "?"), pct.get("99", "?"), int(errors.group(1)) if errors else 0


def main():
    cookie = sign_in()
    _, _, first = call("/admin/users?size=50")
    rows = ids_and_emails(first)
    if not rows:
        sys.exit("no users listed: seed first")
    some_id, some_email = rows[len(rows) // 2]
    # A fragment of a real address, long enough for the trigram index.
    fragment = some_email.split("@")[0][:10]
    # Inside a word: the last name without its first letter (the slower tier).
    local = some_email.split("@")[0].split(".")
    inside = (local[1] if len(local) > 1 else local[0])[1:6]
    print(f"preparing: page {PAGES} of the list…")
    deep = page_n(PAGES)
    scenarios = [
        ("first list page", "/admin/users"),
        ("filtered page (suspended, internal)", "/admin/users?status=SUSPENDED&type=INTERNAL"),
        (f"substring search ({fragment})", "/admin/users?q=" + urllib.parse.quote(fragment)),
        (f"substring inside a word ({inside})", "/admin/users?q=" + urllib.parse.quote(inside)),
        ("exact email search", "/admin/users?q=" + urllib.parse.quote(some_email)),
        (f"page {PAGES} by cursor", deep),
        ("user page", f"/admin/users/{some_id}"),
    ]
    print(f"\n{'scenario':<42} {'req/s':>9} {'p50':>9} {'p99':>9}")
    for name, path in scenarios:
        rps, p50, p99, errors = wrk(cookie, path)
        flag = f"  ({errors} errors)" if errors else ""
        print(f"{name:<42} {rps:>9.0f} {p50:>9} {p99:>9}{flag}")


if __name__ == "__main__":
    main()
