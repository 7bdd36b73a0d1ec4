#!/usr/bin/env python3
"""Revocation latency with the session cache: how long after a session is revoked through one
replica the last of the others refuses it. Standard library only.

  revocation.py --ports P0,P1,P2 --origin URL --tokens N [--limit-ms MS]

Each of the N sessions (raw tokens `revtoken1`..`revtokenN`, inserted by bench/revocation.sh) is
read twice on every replica (the second read is a cache hit), then revoked through replica n % 3
(`revoke-session`); the revoking replica must refuse it on its next request, and the other two
are polled in turn, over kept-alive connections, until both refuse. Two figures per revocation:
from the revocation's response (the change is committed) and from its request being sent.
"""
import argparse
import http.client
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True)
    ap.add_argument("--origin", required=True)
    ap.add_argument("--tokens", type=int, required=True)
    ap.add_argument("--limit-ms", type=float, default=100,
                    help="fail if a revocation took this long to reach every replica (0: report only)")
    args = ap.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    conns = [http.client.HTTPConnection("127.0.0.1", p) for p in ports]

    def call(i, method, path, token, body=None):
        headers = {"Authorization": "Bearer " + token, "Origin": args.origin}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        start = time.perf_counter()
        conns[i].request(method, path, body=body, headers=headers)
        reply = conns[i].getresponse()
        data = reply.read()
        slowest[method] = max(slowest.get(method, 0), time.perf_counter() - start)
        if reply.status != 200:
            sys.exit(f"{method} {path} on replica {i}: {reply.status} {data[:200]!r}")
        return data

    def has_session(i, token):
        return call(i, "GET", "/api/auth/get-session", token) != b"null"

    after_response, after_send, polls, slowest = [], [], 0, {}
    for n in range(1, args.tokens + 1):
        token = f"revtoken{n}"
        for i in range(len(conns)):
            for _ in range(2):
                if not has_session(i, token):
                    sys.exit(f"session {n} missing on replica {i} before its revocation")
        via = n % len(conns)
        sent = time.perf_counter()
        call(via, "POST", "/api/auth/revoke-session", token, {"token": token})
        done = time.perf_counter()
        if has_session(via, token):
            sys.exit(f"session {n}: the revoking replica {via} still serves it")
        pending = [i for i in range(len(conns)) if i != via]
        last = done
        while pending:
            for i in list(pending):
                polls += 1
                if not has_session(i, token):
                    pending.remove(i)
                    last = time.perf_counter()
            if time.perf_counter() - done > 5:
                sys.exit(f"session {n}: replicas {pending} still serve it 5 s after its revocation")
        after_response.append(last - done)
        after_send.append(last - sent)

    def figures(xs):
        xs = sorted(xs)
        pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000
        return f"p50 {pick(0.50):.2f} ms, p99 {pick(0.99):.2f} ms, max {xs[-1] * 1000:.2f} ms"

    worst = max(range(len(after_send)), key=after_send.__getitem__)
    print(f"{len(after_response)} revocations, {polls} polls of the other replicas;"
          f" the slowest was revocation {worst + 1}")
    print(f"last replica refuses, after the revocation's response: {figures(after_response)}")
    print(f"last replica refuses, after the revocation was sent:  {figures(after_send)}")
    print("slowest request: " + ", ".join(f"{m} {t * 1000:.2f} ms" for m, t in sorted(slowest.items())))
    if args.limit_ms and max(after_send) * 1000 >= args.limit_ms:
        sys.exit(f"FAIL: a revocation took {args.limit_ms:g} ms or more to reach every replica")


if __name__ == "__main__":
    main()
