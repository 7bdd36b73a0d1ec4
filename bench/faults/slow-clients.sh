#!/usr/bin/env bash
# Slow and idle clients against the release binary: IDLE connections (10,000; 5,000 with QUICK=1)
# that make one request and then stay open, SLOW connections (1,000; 200) that send a request
# head one byte a second, and SILENT connections (1,000; 200) that send nothing, all at once,
# while a probe asks GET /api/auth/ok on a fresh connection twice a second. Reports when the
# server cut each kind (seconds after the answer, after connecting), whether any outlived the
# run, the probe's answers and latency, and the server's memory (RSS) and open descriptors
# before, at the peak and after. Deadlines: ORGAUTH_HEADER_READ_TIMEOUT (10 s) and
# ORGAUTH_IDLE_TIMEOUT (75 s; 12 s with QUICK=1), overridable as HEADER_TIMEOUT / IDLE_TIMEOUT.
# ROUNDS (2; 1 with QUICK=1) times over, to show the second round reuses the first one's memory.
# PG=1: on a fresh PostgreSQL database of TEST_POSTGRES_URL's server (dropped at the end), each
# idle connection's one request a get-session with a session cookie, and the server's
# connections to that database (pg_stat_activity) counted before, at the peak and after.
#   bench/faults/slow-clients.sh            # about 200 s
#   QUICK=1 bench/faults/slow-clients.sh    # about 40 s
#   PG=1 SLOW=0 SILENT=0 ROUNDS=1 IDLE_TIMEOUT=20 bench/faults/slow-clients.sh   # idle only, ~45 s
source "$(dirname "$0")/net-lib.sh"
pg_db="" pg_url=""
if [[ ${PG:-0} == 1 ]]; then
  pg_server=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  pg_db="orgauth_bench_idle_$$"
  pg_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$pg_server" "$pg_db")
  psql "$pg_server" -qc "CREATE DATABASE \"$pg_db\""
  trap 'net_cleanup; psql "$pg_server" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  export NET_DATABASE_URL=$pg_url
fi
if [[ ${QUICK:-0} == 1 ]]; then
  idle=${IDLE:-5000} slow=${SLOW:-200} silent=${SILENT:-200} idle_timeout=${IDLE_TIMEOUT:-12} rounds=${ROUNDS:-1}
else
  idle=${IDLE:-10000} slow=${SLOW:-1000} silent=${SILENT:-1000} idle_timeout=${IDLE_TIMEOUT:-75} rounds=${ROUNDS:-2}
fi
header_timeout=${HEADER_TIMEOUT:-10}
RUST_LOG=warn net_start slow ORGAUTH_HEADER_READ_TIMEOUT="$header_timeout" ORGAUTH_IDLE_TIMEOUT="$idle_timeout"
cookie=""
[[ -z $pg_db ]] || cookie=$(net_session_cookie)
echo "slow-clients: idle=$idle slow=$slow silent=$silent header_timeout=${header_timeout}s idle_timeout=${idle_timeout}s${pg_db:+ database=PostgreSQL}"
python3 - "$PID" "${BASE#http://}" "$idle" "$slow" "$silent" "$header_timeout" "$idle_timeout" "$rounds" "$pg_db" "$cookie" <<'PY'
import asyncio, os, statistics, subprocess, sys, time
pid, hostport, n_idle, n_slow, n_silent, header_t, idle_t, rounds = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:9])
pg_db, cookie = sys.argv[9], sys.argv[10]
host, port = hostport.split(":"); port = int(port)
REQ = b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nUser-Agent: faults\r\n\r\n"
# The idle connections' one request: with a database to watch, one that reads it.
IDLE_REQ = (f"GET /api/auth/get-session HTTP/1.1\r\nHost: x\r\nUser-Agent: faults\r\nCookie: {cookie}\r\n\r\n".encode()
            if cookie else REQ)
def pg_conns():
    """The server's connections to its database (none counted without PG=1)."""
    if not pg_db: return 0
    sql = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{pg_db}' AND pid <> pg_backend_pid()"
    return int(subprocess.run(["psql", os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                               "-XAtc", sql], capture_output=True, text=True, check=True).stdout)
limit = max(header_t, idle_t) + 20          # a connection open this long was not cut
def rss():
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
def fds(): return len(os.listdir(f"/proc/{pid}/fd"))

async def wait_closed(reader, deadline):
    """Seconds until the server closes (EOF or reset), or None if still open at the deadline."""
    start = time.monotonic()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0: return None
            data = await asyncio.wait_for(reader.read(4096), left)
            if not data: return time.monotonic() - start
    except (ConnectionError, OSError): return time.monotonic() - start
    except asyncio.TimeoutError: return None

async def idle_one(res):
    try:
        r, w = await asyncio.open_connection(host, port)
        w.write(IDLE_REQ); await w.drain()
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
        length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
        await asyncio.wait_for(r.readexactly(length), 30)
        if not head.startswith(b"HTTP/1.1 200"): res["bad"] += 1; return
        res["served"] += 1
        t = await wait_closed(r, time.monotonic() + limit)
        (res["open"].__setitem__(0, res["open"][0] + 1) if t is None else res["cut"].append(t))
        w.close()
    except Exception: res["failed"] += 1

async def slow_one(res):
    try:
        r, w = await asyncio.open_connection(host, port)
        start, sent = time.monotonic(), 0
        head = b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 500 + b"\r\n\r\n"
        closing = asyncio.ensure_future(wait_closed(r, start + limit))
        for b in head:
            if closing.done(): break
            try: w.write(bytes([b])); await w.drain(); sent += 1
            except (ConnectionError, OSError): break
            await asyncio.sleep(1)
        t = await closing
        res["bytes"].append(sent)
        (res["open"].__setitem__(0, res["open"][0] + 1) if t is None else res["cut"].append(time.monotonic() - start))
        w.close()
    except Exception: res["failed"] += 1

async def silent_one(res):
    try:
        r, w = await asyncio.open_connection(host, port)
        t = await wait_closed(r, time.monotonic() + limit)
        (res["open"].__setitem__(0, res["open"][0] + 1) if t is None else res["cut"].append(t))
        w.close()
    except Exception: res["failed"] += 1

async def probe(stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            w.write(REQ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")); await w.drain()
            data = await asyncio.wait_for(r.read(), 10)
            out["ok" if data.startswith(b"HTTP/1.1 200") else "bad"] += 1
            out["ms"].append((time.monotonic() - t0) * 1000); w.close()
        except Exception: out["failed"] += 1
        await asyncio.sleep(0.5)

async def sample(stop, out):
    while not stop.is_set():
        out["rss"] = max(out["rss"], rss()); out["fds"] = max(out["fds"], fds())
        if pg_db: out["pg"] = max(out["pg"], await asyncio.to_thread(pg_conns))
        await asyncio.sleep(0.25)

def kinds(): return {"served": 0, "bad": 0, "failed": 0, "cut": [], "open": [0], "bytes": []}

async def round_(n):
    before = (rss(), fds(), pg_conns())
    stop, peak, pr = asyncio.Event(), {"rss": 0, "fds": 0, "pg": 0}, {"ok": 0, "bad": 0, "failed": 0, "ms": []}
    bg = [asyncio.ensure_future(probe(stop, pr)), asyncio.ensure_future(sample(stop, peak))]
    res = {"idle": kinds(), "slow": kinds(), "silent": kinds()}
    tasks, t0 = [], time.monotonic()
    # Opened in batches (the accept queue holds 1024).
    plan = [("slow", slow_one)] * n_slow + [("silent", silent_one)] * n_silent + [("idle", idle_one)] * n_idle
    for i, (kind, fn) in enumerate(plan):
        tasks.append(asyncio.ensure_future(fn(res[kind])))
        if i % 500 == 499: await asyncio.sleep(0.05)
    opened = time.monotonic() - t0
    await asyncio.gather(*tasks)
    stop.set(); await asyncio.gather(*bg)
    await asyncio.sleep(2)
    after = (rss(), fds(), pg_conns())
    print(f"round {n}: opened {len(plan)} connections in {opened:.1f}s; all ended after {time.monotonic() - t0:.1f}s")
    for kind, r in res.items():
        cut = sorted(r["cut"])
        line = f"{kind}: cut {len(cut)}, still open at {limit}s {r['open'][0]}, failed to connect/answer {r['failed'] + r['bad']}"
        if cut: line += f"; cut after s: min {cut[0]:.1f} median {statistics.median(cut):.1f} max {cut[-1]:.1f}"
        if kind == "slow" and r["bytes"]: line += f"; bytes sent before the cut: max {max(r['bytes'])}"
        if kind == "idle": line += " (seconds after the answer)"
        print(line)
    ms = sorted(pr["ms"]) or [0]
    print(f"probe: ok {pr['ok']}, not ok {pr['bad']}, failed {pr['failed']}; latency ms median {statistics.median(ms):.1f} max {ms[-1]:.1f}")
    print(f"server RSS KiB: before {before[0]}, peak {peak['rss']}, after {after[0]}; open fds: before {before[1]}, peak {peak['fds']}, after {after[1]}")
    if pg_db: print(f"server connections to PostgreSQL: before {before[2]}, peak {peak['pg']}, after {after[2]}")
async def main():
    for n in range(1, rounds + 1):
        await round_(n)
asyncio.run(main())
PY
