"""Schemathesis hooks for orgauth (loaded through schemathesis.toml's `hooks`).

- Sessions: every generated request carries a real session cookie and the `Origin` a browser on
  `BETTER_AUTH_URL` sends (api/src/origin.rs refuses a cookie-carrying POST without a trusted
  Origin with 403 before any route runs, which would hide every route behind that one answer;
  run.sh also sends it as a session header, which survives cases whose headers are generated).
  The owner is a user this file signs up; when a generated request ends its session (sign-out,
  revoke-sessions), Schemathesis's reauth on 401 calls `get` again, which signs in again or,
  when that fails, signs up a new owner.
- Actors: each request is sent by the user who would send it. `after_call` records the password
  of each user a 200 from sign-up created, who created each organization and team, and whom
  each invitation invites; `set` then sends accept-, reject- and get-invitation as the invitee
  (signed up first if nobody did), a request naming a known organization or team as its
  creator, a request whose link names a user (`fuzzActor`, removed before sending) as that user,
  and delete-user as a user of its own. Anything else goes as the owner. In the stateful phase,
  an invitation to a known organization goes to a new address and into no team
  (`_fresh_invitee`), so that the invitee can accept it.
- Verified addresses: invitations need them (Better Auth's default, kept), so every user this
  file signs in has its address verified the way a person would: send-verification-email, then
  the link from the mail, which the server writes to its log (ORGAUTH_FUZZ_LOG) without SMTP.
- Documented rules as schema: the document states some rules in words only (a slug is 1 to 64
  of a-z, 0-9 and '-'; a password 8 to 128 characters; roles are member, admin, owner), so
  nearly every generated sign-up or create was refused and the stateful phase never got past its
  first step. `before_load_schema` writes these rules into the schema (REFINEMENTS below), for
  the positive cases to meet them; the negative cases are generated against them.
- Links: the spec carries no OpenAPI links, so `before_load_schema` adds them (LINKS below): the
  stateful phase chains sign-up -> create organization (as the new user) -> invite -> accept (as
  the invitee), plus the routes that take the ids those answers return.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from typing import Any

import requests
import schemathesis

URL = os.environ["ORGAUTH_FUZZ_URL"].rstrip("/")
ORIGIN = os.environ["ORGAUTH_FUZZ_ORIGIN"].rstrip("/")
LOG = os.environ["ORGAUTH_FUZZ_LOG"]
COOKIE = "better-auth.session_token"
PASSWORD = "fuzz-password-0"  # every user this file creates; generated requests never learn it
TIMEOUT = 30

_lock = threading.Lock()
_counter = itertools.count(1)
_passwords: dict[str, str] = {}  # email -> password, for users whose password is known
_sessions: dict[str, str] = {}  # email -> session cookie value
_invitees: dict[str, str] = {}  # invitation id -> invited email (lower case)
_verified: set[str] = set()  # emails whose verification link this file followed


def _headers() -> dict[str, str]:
    return {"Origin": ORIGIN, "Content-Type": "application/json"}


def _session_from(response: requests.Response) -> str | None:
    return response.cookies.get(COOKIE) if response.status_code == 200 else None


def _sign_in(email: str, password: str) -> str | None:
    body = {"email": email, "password": password}
    return _session_from(requests.post(f"{URL}/api/auth/sign-in/email", json=body, headers=_headers(), timeout=TIMEOUT))


def _sign_up(email: str, password: str, name: str) -> str | None:
    body = {"email": email, "password": password, "name": name}
    return _session_from(requests.post(f"{URL}/api/auth/sign-up/email", json=body, headers=_headers(), timeout=TIMEOUT))


def _verify(email: str, cookie: str) -> str:
    """Verifies `email` through the link its mail carries; the session cookie to use after."""
    with _lock:
        if email in _verified:
            return cookie
        _verified.add(email)
    headers = {**_headers(), "Cookie": f"{COOKIE}={cookie}"}
    body = {"email": email, "callbackURL": "/"}
    requests.post(f"{URL}/api/auth/send-verification-email", json=body, headers=headers, timeout=TIMEOUT)
    # The log holds each mail as its link, then a line ending `to=<address> subject=...`.
    pattern = re.compile(r"verify-email\?token=([A-Za-z0-9_.-]+)[^\n]*\n(?:(?!.*verify-email\?token=).*\n)*?.*\bto=" + re.escape(email) + r" subject=")
    for _ in range(100):  # the log can lag the answer by a second or more
        with open(LOG, encoding="utf-8", errors="replace") as log:
            tokens = pattern.findall(log.read())
        if tokens:
            response = requests.get(
                f"{URL}/api/auth/verify-email", params={"token": tokens[-1]}, headers=headers,
                timeout=TIMEOUT, allow_redirects=False,
            )
            return response.cookies.get(COOKIE) or cookie
        time.sleep(0.05)
    return cookie


def _session_of(email: str) -> str | None:
    """A live session for `email`: the recorded one, a new sign-in, or a new user."""
    with _lock:
        if email in _sessions:
            return _sessions[email]
        password = _passwords.get(email)
    cookie = _sign_in(email, password) if password else None
    if cookie is None and password is None:
        cookie = _sign_up(email, PASSWORD, "invitee")
        if cookie is not None:
            password = PASSWORD
    if cookie is not None:
        cookie = _verify(email, cookie)
        with _lock:
            _sessions[email] = cookie
            _passwords[email] = password or PASSWORD
    return cookie


@schemathesis.auth(refresh_interval=86400)
class OwnerSession:
    """The owner's session cookie; fetched at the start and again after a 401."""

    def get(self, case: Any, context: Any) -> str:
        email = _owner["email"]
        if email is not None:
            cookie = _sign_in(email, PASSWORD)
            if cookie is not None:
                return _verify(email, cookie)
        for _ in range(3):
            email = f"owner-{next(_counter)}@fuzz.example"
            cookie = _sign_up(email, PASSWORD, "owner")
            if cookie is not None:
                with _lock:
                    _owner["email"] = email
                    _passwords[email] = PASSWORD
                return _verify(email, cookie)
        raise RuntimeError("could not sign up the owner")

    def set(self, case: Any, data: str, context: Any) -> None:
        _fresh_invitee(case)
        actor = _actor(case)
        if actor == _owner["email"]:
            actor = None  # the owner's session is the one Schemathesis renews
        cookie = (_session_of(actor) if actor else None) or data
        with _lock:
            _actor_of_case[case.id] = actor if actor and cookie != data else _owner["email"]
        case.headers = {**(case.headers or {}), "Origin": ORIGIN}
        case.cookies = {**(case.cookies or {}), COOKIE: cookie}


_owner: dict[str, str | None] = {"email": None}
_actor_of_case: dict[str, str | None] = {}  # case id -> the email whose session it carried
_creators: dict[str, str] = {}  # organization or team id -> the email that created it
ACTOR = "fuzzActor"  # a link's body property naming who acts; removed before sending


def _operation_id(case: Any) -> str | None:
    return case.operation.definition.raw.get("operationId")


def _fresh_invitee(case: Any) -> None:
    """In the stateful phase, a valid invitation to a known organization goes to a new address of
    this file's: a generated one is often an address someone signed up with a password nobody
    knows (`0@0.com`), and its invitation could never be accepted. The fuzzing phase keeps the
    generated addresses."""
    body = case.body if isinstance(case.body, dict) else None
    meta = getattr(case, "meta", None)
    if (
        body is None
        or meta is None
        or _operation_id(case) != "inviteMember"
        or str(meta.phase.name) != "stateful"
        or str(meta.generation.mode) != "positive"
        or not isinstance(body.get("organizationId"), str)
        or body["organizationId"] not in _creators
    ):
        return
    body["email"] = f"invitee-{next(_counter)}@fuzz.example"
    body.pop("teamId", None)  # a generated team id names no team of it


def _actor(case: Any) -> str | None:
    """Who sends `case`: the user a link names, an invitation's invitee, the creator of the
    organization or team the request names, else the owner (None)."""
    body = case.body if isinstance(case.body, dict) else {}
    query = case.query if isinstance(case.query, dict) else {}
    named = body.pop(ACTOR, None)
    if isinstance(named, str):
        return named
    op = _operation_id(case)
    if op == "deleteUser":
        # A user of its own, so that a deletion that succeeds takes neither the owner nor the
        # organizations the other requests work on.
        return f"deleted-{next(_counter)}@fuzz.example"
    with _lock:
        if op in ("acceptInvitation", "rejectInvitation", "getInvitation"):
            invitation = body.get("invitationId", query.get("id"))
            return _invitees.get(invitation) if isinstance(invitation, str) else None
        for key in ("organizationId", "teamId"):
            value = body.get(key, query.get(key))
            if isinstance(value, str) and value in _creators:
                return _creators[value]
    return None


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    with _lock:
        actor = _actor_of_case.pop(case.id, None)
        if response.status_code == 401 and actor:
            _sessions.pop(actor, None)  # signed out by a generated request: sign in again
    if response.status_code != 200:
        return
    op = _operation_id(case)
    try:
        answer = response.json()
    except Exception:
        return
    if not isinstance(answer, dict):
        return
    with _lock:
        if op == "signUpEmail" and isinstance(case.body, dict):
            email, password = answer.get("user", {}).get("email"), case.body.get("password")
            if isinstance(email, str) and isinstance(password, str):
                _passwords[email] = password
                _sessions.pop(email, None)
        elif op in ("createOrganization", "createTeam") and isinstance(answer.get("id"), str) and actor:
            _creators[answer["id"]] = actor
        elif op == "inviteMember" and isinstance(answer.get("id"), str):
            _invitees[answer["id"]] = str(answer.get("email", "")).lower()


def _link(target: str, *, body: dict[str, str] | None = None, **parameters: str) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": target}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body
    return link


ORG = "$response.body#/id"
TEAM = "$response.body#/id"
INVITATION = "$response.body#/id"
MEMBER_ORG = "$response.body#/member/organizationId"

# source operation -> {link name: link}; each on the source's 200.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "signUpEmail": {
        "CreateOrganization": _link("createOrganization", body={ACTOR: "$response.body#/user/email"}),
    },
    "createOrganization": {
        "Invite": _link("inviteMember", body={"organizationId": ORG}),
        "CreateTeam": _link("createTeam", body={"organizationId": ORG}),
        "SetActive": _link("setActiveOrganization", body={"organizationId": ORG}),
        "GetFull": _link("getFullOrganization", **{"query.organizationId": ORG}),
        "ListMembers": _link("listMembers", **{"query.organizationId": ORG}),
        "ListInvitations": _link("listInvitations", **{"query.organizationId": ORG}),
        "ListTeams": _link("listTeams", **{"query.organizationId": ORG}),
        "Update": _link("updateOrganization", body={"organizationId": ORG}),
    },
    "inviteMember": {
        "Accept": _link("acceptInvitation", body={"invitationId": INVITATION}),
        "Reject": _link("rejectInvitation", body={"invitationId": INVITATION}),
        "Cancel": _link("cancelInvitation", body={"invitationId": INVITATION}),
        "Get": _link("getInvitation", **{"query.id": INVITATION}),
    },
    "acceptInvitation": {
        "RemoveMember": _link(
            "removeMember",
            body={"memberIdOrEmail": "$response.body#/member/id", "organizationId": MEMBER_ORG},
        ),
        "UpdateRole": _link(
            "updateMemberRole",
            body={"memberId": "$response.body#/member/id", "organizationId": MEMBER_ORG},
        ),
        "ListMembers": _link("listMembers", **{"query.organizationId": MEMBER_ORG}),
        # Deleted once it has a member, an invitation and teams: the cascade is what matters.
        "DeleteOrganization": _link("deleteOrganization", body={"organizationId": MEMBER_ORG}),
    },
    "createTeam": {
        "Update": _link("updateTeam", body={"teamId": TEAM}),
        "Remove": _link("removeTeam", body={"teamId": TEAM}),
        "SetActive": _link("setActiveTeam", body={"teamId": TEAM}),
        "ListMembers": _link("listTeamMembers", **{"query.teamId": TEAM}),
        "AddMember": _link("addTeamMember", body={"teamId": TEAM}),
    },
}


EMAIL = {"type": "string", "format": "email"}
ROLE = {"type": "string", "enum": ["member", "admin", "owner"]}
# component schema -> property -> the schema to use, from the rule its description states.
REFINEMENTS: dict[str, dict[str, dict[str, Any]]] = {
    "SignUpBody": {"email": EMAIL, "password": {"type": "string", "minLength": 8, "maxLength": 128}},
    "CreateOrganizationBody": {
        "name": {"type": "string", "minLength": 1, "maxLength": 256},
        "slug": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"},
    },
    "InviteMemberBody": {"email": EMAIL},
    "CreateTeamBody": {"name": {"type": "string", "minLength": 1, "maxLength": 256}},
}


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    schemas = raw_schema["components"]["schemas"]
    for component, properties in REFINEMENTS.items():
        for name, refined in properties.items():
            described = schemas[component]["properties"][name]
            schemas[component]["properties"][name] = {**refined, "description": described.get("description", "")}
    schemas["RoleInput"]["anyOf"] = [ROLE, {"type": "array", "items": ROLE, "minItems": 1}]
    by_id = {
        op.get("operationId"): op
        for item in raw_schema.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict)
    }
    for source, links in LINKS.items():
        ok = by_id[source]["responses"]["200"]
        ok.setdefault("links", {}).update(links)
