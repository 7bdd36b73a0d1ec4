#!/usr/bin/env bash
# The targets of docs/performance.md, checked against one run's files (bench/run.sh's OUT).
set -euo pipefail
exec python3 - "$1" <<'PY'
import csv, os, sys
out = sys.argv[1]
rows = list(csv.reader(open(f"{out}/compare/all.tsv"), delimiter="\t"))
# all.tsv: who round impl scenario method path conns dur requests rps p50 p90 p99 max errors rss cpu ...
def mean(who, scen, col):
    v = [float(r[col]) for r in rows if r[0] == who and r[3] == scen]
    return sum(v) / len(v) if v else float("nan")
def peak(who, scens):
    return max(float(r[15]) for r in rows if r[0] == who and r[3] in scens)
rps = lambda w, s: mean(w, s, 9)
ratio = lambda s: rps("cand", s) / rps("ref", s)
pgb = {}
p = f"{out}/compare/pgbench/pgbench.tsv"
if os.path.exists(p):
    for r in list(csv.reader(open(p), delimiter="\t"))[1:]:
        pgb[(r[0], r[1])] = float(r[4])
mem = dict(l.strip().split("=") for l in open(f"{out}/compare/orgauth/seed-run/server-memory.txt") if "=" in l)
flood = dict(l.strip().split("=") for l in open(f"{out}/flood.env")) if os.path.exists(f"{out}/flood.env") else {}
conns = rows[0][6] if rows else "?"
checks = [
    ("get-session ≥ 6× the reference", f"{ratio('get_session'):.2f}×", ratio("get_session") >= 6),
]
ceiling = pgb.get(("session_join", conns))
if ceiling:
    share = rps("cand", "get_session") / ceiling
    checks.append((f"get-session ≥ 60% of pgbench session_join at {conns} clients ({ceiling:.0f} tps)", f"{100*share:.0f}%", share >= 0.6))
checks.append((f"get-session p99 < 10 ms at {conns} connections", f"{mean('cand', 'get_session', 12):.2f} ms", mean("cand", "get_session", 12) < 10))
for s in ("org_list", "org_full", "org_members"):
    checks.append((f"{s} ≥ 8× the reference", f"{ratio(s):.2f}×", ratio(s) >= 8))
checks.append(("sign-in (Argon2id) ≥ 2× the reference (scrypt)", f"{ratio('sign_in'):.2f}×", ratio("sign_in") >= 2))
reads = ("get_session", "org_list", "org_full", "org_members")
checks.append((f"peak RSS under the {conns}-connection reads ≤ 60 MiB", f"{peak('cand', reads):.0f} MiB", peak("cand", reads) <= 60))
checks.append(("RSS idle after start ≤ 25 MiB", f"{mem['rss_after_start_mib']} MiB", int(mem["rss_after_start_mib"]) <= 25))
if flood:
    checks.append(("peak RSS during the sign-in flood ≤ 150 MiB", f"{flood['peak_mib']} MiB", int(flood["peak_mib"]) <= 150))
    checks.append(("get-session p99 during the flood < 50 ms", f"{float(flood['get_p99_ms']):.2f} ms", float(flood["get_p99_ms"]) < 50))
print("| target | measured | met |\n|---|---:|:---:|")
for name, value, ok in checks:
    print(f"| {name} | {value} | {'yes' if ok else '**no**'} |")
PY
