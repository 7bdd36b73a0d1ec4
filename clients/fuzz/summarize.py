"""Figures of one Schemathesis run (its NDJSON report) for docs/reliability.md, and its verdict.

Usage: summarize.py NAME NDJSON OPENAPI_JSON [SCHEMATHESIS_OUTPUT]
Prints operations exercised, cases (requests sent), answers by status, failures by check, distinct
5xx answers and requests that got no answer (connection reset, timeout). Exits 1 when any gated
check failed, any answer was a 5xx, any request got no answer, a scenario errored, or an
operation of the document was not exercised.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import sys


def main() -> int:
    name, ndjson, spec_path = sys.argv[1:4]
    text_output = sys.argv[4] if len(sys.argv) > 4 else None
    spec = json.load(open(spec_path))
    operations = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "head", "options")
    }
    cases_by_op: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    distinct_failures: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    server_errors: dict[tuple[str, int, str], int] = collections.Counter()
    no_answer: list[str] = []
    errored = 0
    phases: collections.Counter[str] = collections.Counter()
    seen: set[str] = set()
    for line in open(ndjson, encoding="utf-8"):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        if finished.get("status") == "error":
            errored += 1
        recorder = finished["recorder"]
        for case_id, node in recorder.get("cases", {}).items():
            if case_id in seen:
                continue
            seen.add(case_id)
            case = node["value"]
            label = f"{case['method']} {_template(case['path'], operations, case['method'])}"
            phases[case.get("meta", {}).get("phase", {}).get("name", "?")] += 1
            interaction = recorder.get("interactions", {}).get(case_id)
            if interaction is None:
                continue
            cases_by_op[label] += 1
            response = interaction.get("response")
            if not response:
                no_answer.append(f"{label}: {interaction.get('error') or 'no response'}")
                continue
            status = response["status_code"]
            statuses[f"{status // 100}xx"] += 1
            if status >= 500:
                server_errors[(label, status, _code(response))] += 1
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                failures[check["name"]] += 1
                failure = check["failure_info"]["failure"]
                distinct_failures[check["name"]].add((failure.get("operation", "?"), failure.get("title", "?")))
    exercised = {op for op in cases_by_op if op in operations}
    print(f"--- {name}")
    print(f"operations: {len(exercised)} of {len(operations)} exercised")
    missing = sorted(operations - exercised)
    if missing:
        print(f"  not exercised: {', '.join(missing)}")
    print(f"cases (requests sent): {sum(cases_by_op.values())} ({', '.join(f'{p} {n}' for p, n in sorted(phases.items()))})")
    print(f"answers: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}")
    if text_output:
        links = re.search(r"API Links:\s+(.*)", open(text_output, encoding="utf-8", errors="replace").read())
        if links:
            print(f"stateful links: {links.group(1).strip()}")
    print("failures by check:" + ("" if failures else " none"))
    for check, count in sorted(failures.items()):
        print(f"  {check}: {count} failures, {len(distinct_failures[check])} distinct")
        if len(distinct_failures[check]) <= 12:
            for operation, title in sorted(distinct_failures[check]):
                print(f"    {operation}: {title}")
    print(f"distinct 5xx: {len(server_errors)}")
    for (label, status, code), count in sorted(server_errors.items()):
        print(f"  {label} -> {status} {code} (x{count})")
    print(f"requests without an answer: {len(no_answer)}")
    for line in no_answer[:20]:
        print(f"  {line}")
    if errored:
        print(f"scenarios that errored: {errored}")
    return 1 if failures or server_errors or no_answer or errored or missing else 0


def _template(path: str, operations: set[str], method: str) -> str:
    """The spec's path for a generated path (`/api/auth/callback/x` -> `/api/auth/callback/{id}`)."""
    if f"{method} {path}" in operations:
        return path
    for op in operations:
        op_method, template = op.split(" ", 1)
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]*", re.escape(template)) + "$"
        if op_method == method and re.match(pattern, path):
            return template
    return path


def _code(response: dict) -> str:
    try:
        body = json.loads(base64.b64decode(response.get("content", {}).get("$base64", "")) or b"null")
        return str(body.get("code", "")) if isinstance(body, dict) else ""
    except Exception:
        return ""


if __name__ == "__main__":
    sys.exit(main())
