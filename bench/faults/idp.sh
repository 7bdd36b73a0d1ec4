#!/usr/bin/env bash
# Identity providers that are down or stall, against the release binary. Providers: `github`
# (its endpoints point where nothing listens, the token endpoint at a server that accepts and
# never answers), `idp` (an OpenID provider that is up: a local discovery document), `idp-down`
# (nothing listens) and `idp-stalled` (accepts, never answers); ORGAUTH_PROVIDER_TIMEOUT=10.
# Measures with wrk, for SECS each (10; 5 with QUICK=1):
#   1. POST sign-in/social for each provider: statuses and latency (GitHub and a cached OpenID
#      document start without the network; a provider without a document answers 503);
#   2. GET get-session alone, then while PENDING (200) callbacks wait on the stalled token endpoint:
#      requests per second and latency, and how the callbacks ended.
#   bench/faults/idp.sh            # about 75 s
#   QUICK=1 bench/faults/idp.sh    # about 45 s
source "$(dirname "$0")/net-lib.sh"
secs=${SECS:-$([[ ${QUICK:-0} == 1 ]] && echo 5 || echo 10)}
pending=${PENDING:-200}
nowhere=http://127.0.0.1:$(net_free_port)
stall_port=$(net_free_port) idp_port=$(net_free_port)
# The stalling server and the OpenID provider that is up, in one Python process.
python3 - "$stall_port" "$idp_port" <<'PY' &
import json, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
stall_port, idp_port = map(int, sys.argv[1:])
held = []
def stall():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", stall_port)); s.listen(4096)
    while True: held.append(s.accept()[0])
threading.Thread(target=stall, daemon=True).start()
issuer = f"http://127.0.0.1:{idp_port}"
class Idp(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        doc = {"/.well-known/openid-configuration": {"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
               "token_endpoint": issuer + "/token", "jwks_uri": issuer + "/jwks", "response_types_supported": ["code"],
               "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]},
               "/jwks": {"keys": []}}.get(self.path)
        body = json.dumps(doc).encode()
        self.send_response(200 if doc else 404); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
ThreadingHTTPServer(("127.0.0.1", idp_port), Idp).serve_forever()
PY
EXTRA_PIDS=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$idp_port/jwks" 2>/dev/null; do sleep 0.1; done
oidc() { printf '{"id":"%s","discoveryUrl":"%s/.well-known/openid-configuration","clientId":"c","clientSecret":"s"}' "$1" "$2"; }
providers="[$(oidc idp "http://127.0.0.1:$idp_port"),$(oidc idp-down "$nowhere"),$(oidc idp-stalled "http://127.0.0.1:$stall_port")]"
RUST_LOG=error net_start idp GITHUB_CLIENT_ID=gh GITHUB_CLIENT_SECRET=gh-secret \
  ORGAUTH_GITHUB_AUTHORIZE_URL="$nowhere/login/oauth/authorize" ORGAUTH_GITHUB_API_URL="$nowhere" \
  ORGAUTH_GITHUB_TOKEN_URL="http://127.0.0.1:$stall_port/login/oauth/access_token" \
  ORGAUTH_OIDC_PROVIDERS="$providers" ORGAUTH_PROVIDER_TIMEOUT=10
sleep 1 # the start-up fetch of the discovery documents
echo "idp: ${secs}s per measurement, 16 connections"
for provider in github idp idp-down idp-stalled; do
  echo "sign-in/social $provider: $(WRK_METHOD=POST WRK_BODY="{\"provider\":\"$provider\",\"callbackURL\":\"/\"}" \
    net_wrk "$secs" 16 /api/auth/sign-in/social -H 'content-type: application/json' -H "origin: $BASE")"
done
cookie=$(net_session_cookie)
echo "get-session alone: $(net_wrk "$secs" 16 /api/auth/get-session -H "cookie: $cookie")"
# PENDING browsers, each starting a GitHub sign-in and presenting a code at the callback, which
# waits on the stalled token endpoint until the provider timeout; started again when it lands.
python3 - "$BASE" "$pending" "$((secs + 12))" >"$WORK/callbacks.txt" <<'PY' &
import collections, http.client, json, sys, threading, time, urllib.parse
base, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
host = base.removeprefix("http://")
ends, times, lock, stop = collections.Counter(), [], threading.Lock(), time.monotonic() + secs
def browser():
    while time.monotonic() < stop:
        c = http.client.HTTPConnection(host, timeout=60)
        c.request("POST", "/api/auth/sign-in/social", json.dumps({"provider": "github", "callbackURL": "/", "errorCallbackURL": "/failed"}),
                  {"content-type": "application/json", "origin": base})
        r = c.getresponse(); body = json.loads(r.read())
        cookie = next(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and "state=" in v)
        state = urllib.parse.parse_qs(urllib.parse.urlparse(body["url"]).query)["state"][0]
        t0 = time.monotonic()
        c.request("GET", f"/api/auth/callback/github?code=c&state={state}", headers={"cookie": cookie})
        r = c.getresponse(); r.read(); c.close()
        with lock:
            ends[f"{r.status} {r.getheader('location')}"] += 1; times.append(time.monotonic() - t0)
threads = [threading.Thread(target=browser) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
times.sort()
print(f"callbacks landed: {dict(ends)}; seconds each: min {times[0]:.1f} max {times[-1]:.1f}")
PY
cb=$!
sleep 2 # the callbacks are pending
echo "get-session with $pending callbacks pending: $(net_wrk "$secs" 16 /api/auth/get-session -H "cookie: $cookie")"
wait "$cb"
cat "$WORK/callbacks.txt"
