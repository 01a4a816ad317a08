#!/usr/bin/env python3
"""A stand-in for Stripe's API on this machine, for the API contract run and
for trying the billing screens without a Stripe account:

    python3 ops/stripe_fake.py PORT [KEY]     (KEY defaults to sk_test_fake)
    SOWAT_STRIPE_SECRET_KEY=sk_test_fake SOWAT_STRIPE_API_BASE=http://127.0.0.1:PORT cargo run --release

It answers the endpoints the backoffice calls (Checkout and portal
sessions, subscriptions, invoice previews, invoices, invoice items) with
JSON shaped as Stripe documents it, and refuses any other key with 401.
Subscriptions exist once posted to /fake/subscriptions (a JSON object).
The integration tests use their own peer (tests/it/stripe_peer.rs).
"""
import json, http.server, urllib.parse, itertools, sys
n = itertools.count(1)
subs = {}
class H(http.server.BaseHTTPRequestHandler):
    def _send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header('content-type','application/json'); self.send_header('content-length',str(len(b))); self.end_headers(); self.wfile.write(b)
    def _form(self):
        l = int(self.headers.get('content-length') or 0)
        return dict(urllib.parse.parse_qsl(self.rfile.read(l).decode()))
    def log_message(self, *args):
        pass
    def _auth(self):
        if self.headers.get('authorization') != 'Bearer ' + KEY:
            self._send(401, {"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}})
            return False
        return True
    def do_GET(self):
        if not self._auth(): return
        p = urllib.parse.urlparse(self.path)
        if p.path == '/v1/invoices':
            return self._send(200, {"object":"list","data":[{"id":"in_1","number":"SOW-1","status":"paid","total":1900,"amount_paid":1900,"currency":"eur","created":1780000000,"hosted_invoice_url":"https://invoice.stripe.com/i/in_1"}]})
        if p.path.startswith('/v1/subscriptions/'):
            s = subs.get(p.path.rsplit('/',1)[1])
            return self._send(200, s) if s else self._send(404, {"error":{"type":"invalid_request_error","message":"No such subscription"}})
        self._send(404, {"error":{"type":"invalid_request_error","message":"Unrecognized request URL"}})
    def do_DELETE(self):
        if not self._auth(): return
        sid = self.path.rsplit('/',1)[1]
        s = subs.get(sid)
        if not s: return self._send(404, {"error":{"type":"invalid_request_error","message":"No such subscription"}})
        s["status"]="canceled"; self._send(200, s)
    def do_POST(self):
        if self.path == '/fake/subscriptions':
            l = int(self.headers.get('content-length') or 0)
            s = json.loads(self.rfile.read(l))
            subs[s['id']] = s
            return self._send(200, s)
        f = self._form(); i = next(n)
        if self.headers.get('authorization') != 'Bearer ' + KEY:
            return self._send(401, {"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}})
        p = self.path
        if p == '/v1/checkout/sessions':
            return self._send(200, {"id":f"cs_test_{i}","object":"checkout.session","url":f"https://checkout.stripe.com/c/pay/cs_test_{i}"})
        if p == '/v1/billing_portal/sessions':
            return self._send(200, {"id":f"bps_{i}","object":"billing_portal.session","url":f"https://billing.stripe.com/p/session/bps_{i}"})
        if p == '/v1/invoices/create_preview':
            return self._send(200, {"object":"invoice","currency":"eur","total":2450,"lines":{"data":[{"amount":-950,"proration":True},{"amount":2900,"proration":True}]}})
        if p == '/v1/invoiceitems':
            return self._send(200, {"id":f"ii_{i}","object":"invoiceitem"})
        if p.startswith('/v1/subscriptions/'):
            s = subs.get(p.rsplit('/',1)[1])
            if not s: return self._send(404, {"error":{"type":"invalid_request_error","message":"No such subscription"}})
            if 'cancel_at_period_end' in f: s['cancel_at_period_end'] = f['cancel_at_period_end']=='true'
            if 'items[0][price]' in f: s['items']['data'][0]['price']['id'] = f['items[0][price]']
            return self._send(200, s)
        self._send(404, {"error":{"type":"invalid_request_error","message":"Unrecognized request URL"}})
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 12111
KEY = sys.argv[2] if len(sys.argv) > 2 else 'sk_test_fake'
http.server.ThreadingHTTPServer(('127.0.0.1', PORT), H).serve_forever()
