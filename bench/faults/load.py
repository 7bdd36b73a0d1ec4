#!/usr/bin/env python3
"""The load of the fault scripts, and their figures. Standard library only.

wrk reports totals; these scripts need every request on a timeline (to count statuses per phase
of a fault and measure recovery) and the identity of every write that got a 2xx (to check it is
in the database after a crash). One thread per connection, keep-alive, a reconnect after any
connection error, which is recorded as the request's status (`ERR:ConnectionRefusedError`).

  load.py seed   --base URL --users N --cookies FILE        sign up N users, keep their cookies
  load.py run    --base URL --duration S --events FILE \
                 [--session N --cookies FILE] [--signup N] [--orgflow N] [--tag T]
  load.py report --events FILE [--phases FILE] [--hung S]   figures table; exit 1 if a request hung
  load.py verify --events FILE --backend postgres|sqlite    SQL listing each 2xx write not stored

Events are TSV: start end kind status retry-after(0/1) detail (epoch seconds). A phases file has
lines `EPOCH NAME`: each phase runs from its line to the next (or to the end of the load).
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

PASSWORD = "fault-password-123"
ORIGIN_HEADER = {"Origin": "http://127.0.0.1", "Content-Type": "application/json"}


class Conn:
    """One keep-alive connection; any failure closes it and reads as `ERR:<type>`."""

    def __init__(self, base, timeout):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.c = None

    def call(self, method, path, body=None, cookie=None):
        headers = dict(ORIGIN_HEADER) if body is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        data = json.dumps(body).encode() if body is not None else None
        try:
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.c.request(method, path, body=data, headers=headers)
            r = self.c.getresponse()
            payload = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            return r.status, r, payload
        except Exception as e:  # the connection is unusable after any failure
            self.close()
            return "ERR:" + type(e).__name__, None, b""

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except Exception:
                pass
            self.c = None


def session_cookie(resp):
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie" and "session_token=" in v:
            return v.split(";", 1)[0]
    return None


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []

    def add(self, t0, kind, status, resp, detail=""):
        retry = 1 if resp is not None and resp.getheader("Retry-After") else 0
        with self.lock:
            self.rows.append((t0, time.time(), kind, status, retry, detail))

    def write(self, path):
        with open(path, "a") as f:
            for r in self.rows:
                f.write("%.4f\t%.4f\t%s\t%s\t%d\t%s\n" % r)


def ok(status):
    return isinstance(status, int) and 200 <= status < 300


def seed(args):
    conn = Conn(args.base, 30)
    cookies = []
    run = "%d-%d" % (time.time(), os.getpid())
    for i in range(args.users):
        body = {"name": "Reader %d" % i, "email": "reader-%s-%d@faults.local" % (run, i),
                "password": PASSWORD}
        status, resp, _ = conn.call("POST", "/api/auth/sign-up/email", body)
        if not ok(status):
            sys.exit("seed: sign-up answered %s" % status)
        cookies.append(session_cookie(resp))
    with open(args.cookies, "w") as f:
        f.write("\n".join(cookies) + "\n")


def session_worker(base, cookies, offset, rec, stop, timeout):
    conn, i = Conn(base, timeout), offset
    while not stop.is_set():
        cookie = cookies[i % len(cookies)]
        i += 1
        t0 = time.time()
        status, resp, payload = conn.call("GET", "/api/auth/get-session", cookie=cookie)
        # A 200 without the session would be a silent sign-out: count it as a failure.
        if status == 200 and payload.strip() in (b"", b"null"):
            status = "200-null"
        rec.add(t0, "session", status, resp)


def signup_worker(base, tag, n, rec, stop, timeout):
    conn, i = Conn(base, timeout), 0
    while not stop.is_set():
        i += 1
        email = "su-%s-%d-%d@faults.local" % (tag, n, i)
        t0 = time.time()
        status, resp, _ = conn.call("POST", "/api/auth/sign-up/email",
                                    {"name": "Su", "email": email, "password": PASSWORD})
        rec.add(t0, "signup", status, resp, email if ok(status) else "")
        if not ok(status):
            time.sleep(0.05)


def orgflow_worker(base, tag, n, rec, stop, timeout):
    """Cycles of sign-ups, an organization, an invitation accepted, a team and a team member;
    a cycle stops at its first failure and the next starts afresh."""
    owner_c, guest_c, i = Conn(base, timeout), Conn(base, timeout), 0

    def step(conn, kind, method, path, body, cookie, ident):
        t0 = time.time()
        status, resp, payload = conn.call(method, path, body, cookie)
        value = None
        if ok(status):
            try:
                value = json.loads(payload)
            except ValueError:
                status = "%s-unreadable" % status
        rec.add(t0, kind, status, resp, ident(value, resp) if value is not None else "")
        return value, resp

    while not stop.is_set():
        i += 1
        key = "%s-%d-%d" % (tag, n, i)
        owner, guest = "ow-%s@faults.local" % key, "gu-%s@faults.local" % key
        try:
            v, r = step(owner_c, "signup", "POST", "/api/auth/sign-up/email",
                        {"name": "Ow", "email": owner, "password": PASSWORD}, None,
                        lambda v, r: owner)
            if v is None:
                raise StopIteration
            oc = session_cookie(r)
            v, r = step(guest_c, "signup", "POST", "/api/auth/sign-up/email",
                        {"name": "Gu", "email": guest, "password": PASSWORD}, None,
                        lambda v, r: guest)
            if v is None:
                raise StopIteration
            gc, guest_id = session_cookie(r), v["user"]["id"]
            org, _ = step(owner_c, "org", "POST", "/api/auth/organization/create",
                          {"name": "Org " + key, "slug": "org-" + key}, oc, lambda v, r: v["id"])
            if org is None:
                raise StopIteration
            inv, _ = step(owner_c, "invite", "POST", "/api/auth/organization/invite-member",
                          {"email": guest, "role": "member", "organizationId": org["id"]}, oc,
                          lambda v, r: v["id"])
            if inv is None:
                raise StopIteration
            acc, _ = step(guest_c, "accept", "POST", "/api/auth/organization/accept-invitation",
                          {"invitationId": inv["id"]}, gc, lambda v, r: v["member"]["id"])
            if acc is None:
                raise StopIteration
            team, _ = step(owner_c, "team", "POST", "/api/auth/organization/create-team",
                           {"name": "Team " + key, "organizationId": org["id"]}, oc,
                           lambda v, r: v["id"])
            if team is None:
                raise StopIteration
            step(owner_c, "teammember", "POST", "/api/auth/organization/add-team-member",
                 {"teamId": team["id"], "userId": guest_id, "organizationId": org["id"]}, oc,
                 lambda v, r: team["id"] + "," + guest_id)
        except StopIteration:
            time.sleep(0.05)


def run(args):
    rec, stop, threads = Recorder(), threading.Event(), []
    tag = args.tag or "%d" % (time.time() * 1000)
    cookies = []
    if args.session:
        with open(args.cookies) as f:
            cookies = [c.strip() for c in f if c.strip()]
    for n in range(args.session):
        threads.append((session_worker, (args.base, cookies, n * 7, rec, stop, args.timeout)))
    for n in range(args.signup):
        threads.append((signup_worker, (args.base, tag, n, rec, stop, args.timeout)))
    for n in range(args.orgflow):
        threads.append((orgflow_worker, (args.base, tag, n, rec, stop, args.timeout)))
    started = [threading.Thread(target=f, args=a, daemon=True) for f, a in threads]
    for t in started:
        t.start()
    deadline = time.time() + args.duration
    while time.time() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
        time.sleep(0.1)
    stop.set()
    # A request still running after its timeout is a hung request; it is recorded by then.
    for t in started:
        t.join(args.timeout + 5)
    rec.write(args.events)
    hung = sum(t.is_alive() for t in started)
    if hung:
        print("load: %d workers still blocked after the timeout" % hung, file=sys.stderr)
        sys.exit(1)


def read_events(path):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 5:
                rows.append((float(p[0]), float(p[1]), p[2], p[3], p[4] == "1",
                             p[5] if len(p) > 5 else ""))
    return rows


def report(args):
    rows = read_events(args.events)
    if not rows:
        sys.exit("report: no events")
    phases = []
    if args.phases and os.path.exists(args.phases):
        with open(args.phases) as f:
            phases = [(float(t), name) for t, name in (l.split(None, 1) for l in f if l.strip())]
        phases = [(t, n.strip()) for t, n in phases]
    start = min(r[0] for r in rows)
    if not phases or phases[0][0] > start:
        phases.insert(0, (start, "load"))
    bounds = [(t, phases[i + 1][0] if i + 1 < len(phases) else float("inf"), name)
              for i, (t, name) in enumerate(phases)]
    statuses = sorted({r[3] for r in rows}, key=str)
    print("| phase | s | requests | " + " | ".join(statuses) + " | 503 without Retry-After | max latency s |")
    print("|---|---:|---:|" + "---:|" * len(statuses) + "---:|---:|")
    for lo, hi, name in bounds:
        sel = [r for r in rows if lo <= r[0] < hi]
        end = min(hi, max((r[1] for r in rows), default=lo))
        counts = {s: sum(1 for r in sel if r[3] == s) for s in statuses}
        bare = sum(1 for r in sel if r[3] == "503" and not r[4])
        lat = max((r[1] - r[0] for r in sel), default=0.0)
        print("| %s | %.1f | %d | %s | %d | %.2f |" % (
            name, end - lo, len(sel), " | ".join(str(counts[s]) for s in statuses), bare, lat))
    by_kind = sorted({r[2] for r in rows})
    print("\n| kind | requests | 2xx | other |")
    print("|---|---:|---:|---:|")
    for k in by_kind:
        sel = [r for r in rows if r[2] == k]
        good = sum(1 for r in sel if r[3].isdigit() and 200 <= int(r[3]) < 300)
        print("| %s | %d | %d | %d |" % (k, len(sel), good, len(sel) - good))
    failed = False
    for name in args.recover_from or []:
        # From the phase's start (the database is back) to the next phase's.
        window = [(lo, hi) for lo, hi, n in bounds if n == name]
        if not window:
            print("FAIL: no phase %s" % name)
            failed = True
            continue
        back, hi = window[0]
        sel = [r for r in rows if back <= r[1] < hi]
        good = lambda r: r[3].isdigit() and int(r[3]) < 300
        last_bad = max((r[1] for r in sel if not good(r)), default=back)
        first_ok = min((r[1] for r in sel if r[0] >= back and good(r)), default=None)
        print("\nrecovery after `%s`: first 2xx %.2f s after, last failure ended %.2f s after"
              % (name, (first_ok - back) if first_ok else float("nan"), last_bad - back))
        if first_ok is None or last_bad - back > args.recovery_limit:
            print("FAIL: no recovery within %.0f s" % args.recovery_limit)
            failed = True
    hung = [r for r in rows if r[1] - r[0] > args.hung]
    if hung:
        print("FAIL: %d requests took longer than %.0f s" % (len(hung), args.hung))
        failed = True
    allowed = set(args.allow.split(",")) if args.allow else None
    if allowed is not None:
        def allow(s):
            return s in allowed or any(a.endswith("*") and s.startswith(a[:-1]) for a in allowed)
        bad = {s for s in statuses if not allow(s) and not (s.isdigit() and int(s) < 300)}
        if bad:
            print("FAIL: statuses outside %s: %s" % (sorted(allowed), sorted(bad)))
            failed = True
    bare = sum(1 for r in rows if r[3] == "503" and not r[4])
    if bare:
        print("FAIL: %d answers 503 without Retry-After" % bare)
        failed = True
    sys.exit(1 if failed else 0)


def sql_quote(s):
    return "'" + s.replace("'", "''") + "'"


def verify(args):
    """Prints one SQL statement per kind of write; each lists what a 2xx promised and is absent."""
    want = {}
    for r in read_events(args.events):
        if r[3].isdigit() and 200 <= int(r[3]) < 300 and r[5]:
            want.setdefault(r[2], set()).add(r[5])
    checks = {
        "signup": ('"user"', "email"),
        "org": ("organization", "id"),
        "accept": ("member", "id"),
        "team": ("team", "id"),
        "invite": ("invitation", "id"),
    }
    total = 0
    for kind, values in sorted(want.items()):
        total += len(values)
        values = sorted(values)
        for chunk in range(0, len(values), 500):
            part = values[chunk:chunk + 500]
            if kind == "teammember":
                rows = ", ".join("(%s, %s)" % tuple(map(sql_quote, v.split(",", 1))) for v in part)
                print("WITH w(t, u) AS (VALUES %s) SELECT 'missing teammember', t || ',' || u "
                      "FROM w WHERE NOT EXISTS (SELECT 1 FROM team_member x "
                      "WHERE x.team_id = w.t AND x.user_id = w.u);" % rows)
            elif kind in checks:
                table, col = checks[kind]
                rows = ", ".join("(%s)" % sql_quote(v) for v in part)
                print("WITH w(v) AS (VALUES %s) SELECT 'missing %s', v FROM w "
                      "WHERE NOT EXISTS (SELECT 1 FROM %s x WHERE x.%s = w.v);"
                      % (rows, kind, table, col))
    print("-- %d writes answered 2xx" % total, file=sys.stderr)
    for kind, values in sorted(want.items()):
        print("-- %s: %d" % (kind, len(values)), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--base", required=True)
    s.add_argument("--users", type=int, default=100)
    s.add_argument("--cookies", required=True)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--events", required=True)
    r.add_argument("--session", type=int, default=0)
    r.add_argument("--cookies")
    r.add_argument("--signup", type=int, default=0)
    r.add_argument("--orgflow", type=int, default=0)
    r.add_argument("--tag")
    r.add_argument("--timeout", type=float, default=30)
    r.add_argument("--stop-file")
    p = sub.add_parser("report")
    p.add_argument("--events", required=True)
    p.add_argument("--phases")
    p.add_argument("--hung", type=float, default=15)
    p.add_argument("--allow", help="statuses allowed besides 2xx, comma-separated; ERR:* allows every connection error")
    p.add_argument("--recover-from", action="append",
                   help="a phase whose start the recovery is measured from (repeatable)")
    p.add_argument("--recovery-limit", type=float, default=10)
    v = sub.add_parser("verify")
    v.add_argument("--events", required=True)
    v.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    args = ap.parse_args()
    {"seed": seed, "run": run, "report": report, "verify": verify}[args.cmd](args)


if __name__ == "__main__":
    main()
