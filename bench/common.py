"""What the benchmark scripts share: signing in as the bench administrator,
reading pages with a real HTML parser (links are followed as a browser would,
entities and all), asking the database what a page should show, and running
wrk with a static asset of the same binary as the yardstick.

Environment: BENCH_EMAIL, BENCH_PASSWORD, BENCH_TOTP (printed by
`sowat-admin seed --bench`), BENCH_DB (the database the server uses:
`sqlite://path` or `postgres://…`, read with the sqlite3 or psql client to
check each scenario shows the page it claims), BENCH_DURATION (10s),
BENCH_CONNECTIONS (16).
"""
import base64, hashlib, hmac, html, html.parser, http.cookiejar, os, re, struct, subprocess, sys, time
import urllib.parse, urllib.request

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080").rstrip("/")
DURATION = os.environ.get("BENCH_DURATION", "10s")
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "16")


def totp(secret_b32):
    key = base64.b32decode(secret_b32.strip().upper() + "=" * (-len(secret_b32.strip()) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time() // 30)), hashlib.sha1).digest()
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


class Page(html.parser.HTMLParser):
    """The parts of a list page a benchmark needs: row ids, links by id,
    the CSRF token. Attribute values come unescaped, as a browser sees them."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.row_ids, self.links, self.csrf = [], {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("data-id"):
            self.row_ids.append(int(a["data-id"]))
        if tag == "a" and a.get("id") and a.get("href"):
            self.links[a["id"]] = a["href"]
        if tag == "input" and a.get("name") == "_csrf":
            self.csrf = a.get("value")


def get_page(path):
    status, _, text = call(path)
    if status != 200:
        sys.exit(f"{path}: HTTP {status}")
    return Page(text)


def sign_in():
    email, password, secret = (os.environ.get(k) for k in ("BENCH_EMAIL", "BENCH_PASSWORD", "BENCH_TOTP"))
    if not (email and password and secret):
        sys.exit("set BENCH_EMAIL, BENCH_PASSWORD and BENCH_TOTP (printed by `sowat-admin seed --bench`)")
    status, _, text = call("/login")
    status, headers, _ = call("/login", {"email": email, "password": password, "_csrf": Page(text).csrf, "next": "/admin"})
    if status != 303 or "/login/totp" not in headers.get("location", ""):
        sys.exit(f"password step failed ({status})")
    _, _, text = call("/login/totp?next=/admin")
    status, headers, _ = call("/login/totp", {"code": totp(secret), "_csrf": Page(text).csrf, "next": "/admin"})
    if status != 303:
        sys.exit(f"TOTP step failed ({status}); wait 30 s if the code was just used")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def sql(query):
    """One value from the server's database (sqlite3 or psql client)."""
    url = os.environ.get("BENCH_DB", "sqlite://data/sowat-admin.db")
    if url.startswith("sqlite://"):
        out = subprocess.run(["sqlite3", url[len("sqlite://"):], query], capture_output=True, text=True, check=True)
    else:
        out = subprocess.run(["psql", url, "-Atc", query], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def wrk(cookie, path, header=None, connections=None):
    """`header` replaces the session cookie (the API's bearer key)."""
    header = header or f"Cookie: {cookie}"
    conns = connections or CONNECTIONS
    threads = "-t1" if str(conns) == "1" else "-t2"
    run = lambda duration: subprocess.run(
        ["wrk", threads, f"-c{conns}", f"-d{duration}", "--latency", "-H", header, BASE + path],
        capture_output=True, text=True, check=True,
    ).stdout
    # An unmeasured run first: the figures are the scenario's, not those of
    # the switch from the previous one (cold pages, plan caches).
    run(WARMUP)
    out = run(DURATION)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct.get("50", "?"), pct.get("99", "?"), int(errors.group(1)) if errors else 0


def static_asset():
    """The path of the stylesheet, as the pages link it (hashed URL)."""
    _, _, text = call("/login")
    m = re.search(r'href="(/static/app\.css[^"]*)"', text)
    return html.unescape(m.group(1)) if m else "/static/app.css"


def run_scenarios(cookie, scenarios, header=None):
    """wrk on the static asset, then on each scenario; prints each one's
    req/s, p50, p99 and its share of the static asset's req/s."""
    base_rps, base_p50, base_p99, _ = wrk(cookie, static_asset(), header)
    print(f"\n{'scenario':<46} {'req/s':>8} {'p50':>9} {'p99':>9} {'vs static':>9}")
    print(f"{'static asset (app.css)':<46} {base_rps:>8.0f} {base_p50:>9} {base_p99:>9} {'100 %':>9}")
    for name, path in scenarios:
        rps, p50, p99, errors = wrk(cookie, path, header)
        flag = f"  ({errors} errors)" if errors else ""
        print(f"{name:<46} {rps:>8.0f} {p50:>9} {p99:>9} {rps / base_rps * 100:>7.1f} %{flag}")


def check(label, shown, expected):
    """Stops the run when a scenario's page is not the one it claims."""
    if shown != expected:
        sys.exit(f"{label}: the page shows {shown}, the database says {expected}")
