#!/usr/bin/env python3
"""Screenshots of every screen at desktop (1440×900) and phone (390×844)
sizes, light and dark, with headless Chromium over WebDriver.

Usage: start the service with some data (`seed --demo`, then
`seed --bench --users 1` prints an administrator's credentials), then

    BENCH_EMAIL=… BENCH_PASSWORD=… BENCH_TOTP=… python3 tools/screenshots.py [out-dir]

Needs `chromedriver` and `chromium` (Debian: chromium chromium-driver).
Prints each file written and any console error a page logged.
"""
import base64, hashlib, hmac, json, os, struct, subprocess, sys, time, urllib.request

BASE = os.environ.get("BASE", "http://127.0.0.1:8080")
WD = "http://127.0.0.1:9516"
OUT = sys.argv[1] if len(sys.argv) > 1 else "screenshots"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


def totp(secret):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    h = hmac.new(key, struct.pack(">Q", int(time.time() // 30)), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(WD + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(req).read())["value"]
    except urllib.error.HTTPError as e:
        return json.loads(e.read())["value"]


class Browser:
    def __init__(self, width, height, dark):
        args = ["--headless=new", "--no-sandbox", "--disable-gpu"]
        if dark:
            args.append("--force-dark-mode")
        caps = {"capabilities": {"alwaysMatch": {
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"args": args, "mobileEmulation": {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}}}}}}
        self.sid = call("POST", "/session", caps)["sessionId"]
        if dark:
            # Chromium's headless switch for prefers-color-scheme.
            self.s("POST", "/goog/cdp/execute", {"cmd": "Emulation.setEmulatedMedia",
                                                 "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}})

    def s(self, method, path, body=None):
        return call(method, f"/session/{self.sid}{path}", body)

    def go(self, path):
        self.s("POST", "/url", {"url": BASE + path})
        time.sleep(0.8)

    def js(self, script):
        return self.s("POST", "/execute/sync", {"script": script, "args": []})

    def fill(self, css, text):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        self.s("POST", f"/element/{list(el.values())[0]}/value", {"text": text})

    def click(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        self.s("POST", f"/element/{list(el.values())[0]}/click", {})
        time.sleep(0.8)

    def shot(self, name):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        path = os.path.join(OUT, name + ".png")
        with open(path, "wb") as f:
            f.write(png)
        errors = [l["message"] for l in self.s("POST", "/se/log", {"type": "browser"}) if l["level"] == "SEVERE"]
        print(path, "console errors: %s" % errors if errors else "")

    def sign_in(self, email, password, secret):
        self.go("/login")
        self.fill("input[name=email]", email)
        self.fill("input[name=password]", password)
        self.click("form button[type=submit]")
        # A TOTP step is used once: wait for a fresh one.
        time.sleep(30.5 - time.time() % 30)
        self.fill("input[name=code]", totp(secret))
        self.click("form button[type=submit]")

    def quit(self):
        self.s("DELETE", "")


def main():
    email, password, secret = (os.environ[k] for k in ("BENCH_EMAIL", "BENCH_PASSWORD", "BENCH_TOTP"))
    os.makedirs(OUT, exist_ok=True)
    driver = subprocess.Popen(["chromedriver", "--port=9516"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    try:
        for size, (w, h) in SIZES.items():
            for dark in (False, True):
                tag = f"{size}-{'dark' if dark else 'light'}"
                b = Browser(w, h, dark)
                b.go("/login")
                b.shot(f"{tag}-01-login")
                b.sign_in(email, password, secret)
                pages = [
                    ("02-dashboard", "/admin"),
                    ("03-users", "/admin/users"),
                    ("04-users-filtered", "/admin/users?status=SUSPENDED&sort=-name"),
                    ("05-users-empty", "/admin/users?q=zzzzzz"),
                    ("06-user-new", "/admin/users/new"),
                    ("07-user", "/admin/users/2"),
                    ("09-audit", "/admin/audit"),
                    ("10-audit-filtered", "/admin/audit?action=user."),
                    ("11-tasks", "/admin/tasks"),
                    ("12-account", "/account"),
                    ("13-sessions", "/account/sessions"),
                    ("14-not-found", "/admin/users/999999999"),
                    ("15-workspaces", "/admin/workspaces"),
                    ("16-workspace-new", "/admin/workspaces/new"),
                    ("17-workspace-base", "/admin/workspaces/1"),
                    ("18-api-keys", "/admin/api-keys"),
                    ("19-workspace-large", "/admin/workspaces?q=club-1"),
                    ("20-workspace-members", "/workspaces/club-1/members"),
                    ("21-workspace-settings", "/workspaces/club-1/settings"),
                    ("22-users-in-workspace", "/admin/users?workspace=club-1"),
                    ("23-my-workspaces", "/workspaces"),
                    ("24-plans", "/admin/plans"),
                    ("25-plan-new", "/admin/plans/new"),
                    ("26-plan", "/admin/plans/1"),
                    ("27-user-usage", "/admin/users/2/usage"),
                    ("28-overage", "/admin/usage/overage"),
                    ("29-notifications", "/admin/notifications"),
                    ("30-user-billing", "/admin/users/2/billing"),
                    ("31-billing-events", "/admin/billing/events"),
                    ("32-jobs", "/admin/jobs"),
                    ("33-jobs-failed", "/admin/jobs/articleQueue/failed"),
                    ("34-job", "/admin/jobs/articleQueue/job/1"),
                    ("35-job-failures", "/admin/jobs/failures?q=timeout"),
                    ("36-job-stats", "/admin/jobs/stats"),
                    ("37-job-alerts", "/admin/jobs/alerts"),
                    ("38-user-jobs", "/admin/users/2/jobs"),
                ]
                # ONLY=32,33 photographs those screens alone.
                only = [o for o in os.environ.get("ONLY", "").split(",") if o]
                if only:
                    pages = [p for p in pages if any(p[0].startswith(o) for o in only)]
                for name, path in pages:
                    b.go(path)
                    b.shot(f"{tag}-{name}")
                    if name == "03-users":
                        b.js("document.querySelectorAll('#user-rows input[name=ids]').forEach((x, i) => { if (i < 3) x.click(); })")
                        time.sleep(0.3)
                        b.shot(f"{tag}-03b-users-selected")
                        b.js("document.querySelector('[data-selection-bar] button[value=suspend]').click()")
                        time.sleep(1)
                        b.shot(f"{tag}-03c-bulk-modal")
                    if name == "07-user":
                        b.js("document.querySelector('.erase-form button').click()")
                        time.sleep(0.5)
                        b.shot(f"{tag}-08-erase-modal")
                b.go("/")
                b.quit()
    finally:
        driver.terminate()


if __name__ == "__main__":
    main()
