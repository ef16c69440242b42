"""What the gateway's own endpoints answer, as plain functions of the caller and the parsed body (their routes:
`bridge.routes`; their HTTP handlers: `bridge.fronts.gateway`).

    function      answer (JSON)                                          who may call
    ------------  -----------------------------------------------------  ------------------------------------------
    create_key    201: the key's listing fields plus "key", shown once   a person signed in with Entra
    list_keys     200: {"data": [listing fields, ...]}, never a secret   a person signed in with Entra
                  with `user` U: U's keys, each with its "owner"         ENTRA_ADMIN_ROLE (U: object id or user
                                                                         principal name)
    revoke_key    200: {"id": ..., "revoked": true}, at once everywhere  its owner signed in with Entra, or
                                                                         ENTRA_ADMIN_ROLE
    usage         200: today and this month: tokens, cost, per           anyone who may call the bridge
                  deployment and agent, budgets (`usage.report`)
                  with `user` U: U's usage (404: none recorded)          ENTRA_ADMIN_ROLE (U: object id or user
                                                                         principal name)
    export_usage  200 text/csv: everyone's usage of a month (YYYY-MM)    ENTRA_ADMIN_ROLE
    oauth_usage   200: the caller's spend limit as Claude Code reads it   anyone who may call the bridge
                  (GET /api/oauth/usage, `usage.spend_limit`)

create_key takes an optional JSON object: {"name": "cursor on my laptop", "expires_in_days": 30}.
Every refusal is a `BridgeError` the route renders in the client's error shape.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bridge.errors import BridgeError, invalid_request
from bridge.gateway.auth.caller import Caller
from bridge.gateway.auth.keys import PersonalKeys
from bridge.gateway.clock import utc_now
from bridge.gateway.usage.budget import Budget
from bridge.gateway.usage.report import chargeback_csv, report
from bridge.gateway.usage.spend_limit import Spent, described, usage_page

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

KEY_NOTE = "Store this key now: the bridge keeps only its hash and will never show it again."


def _require_entra(caller: Caller) -> None:
    if caller.method == "entra":
        return
    if caller.method == "key":
        reason = "a personal key cannot manage personal keys: call with a Microsoft Entra ID token"
    elif caller.method == "app":
        reason = "an application cannot have personal keys: they are for people signed in with Microsoft Entra ID"
    else:
        reason = "personal keys need CLIENT_AUTH=entra and a caller signed in with Microsoft Entra ID"
    raise BridgeError("permission_error", f"Personal keys: {reason}")


def _key_request(body: Any) -> tuple[str, int | None]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid_request('The body must be a JSON object, e.g. {"name": "cursor on my laptop"}')
    unknown = sorted(set(body) - {"name", "expires_in_days"})
    if unknown:
        raise invalid_request(f"Unknown field(s) {', '.join(map(repr, unknown))}: a key takes name and expires_in_days")
    name = body.get("name", f"personal key {utc_now():%Y-%m-%d}")
    if not isinstance(name, str):
        raise invalid_request("name must be a string")
    days = body.get("expires_in_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)):
        raise invalid_request("expires_in_days must be a whole number of days")
    return name, days


async def create_key(caller: Caller, body: Any, keys: PersonalKeys) -> dict[str, Any]:
    _require_entra(caller)
    name, days = _key_request(body)
    record, secret = await keys.create(caller, name, days)
    return {**record.public(), "key": secret, "note": KEY_NOTE}


async def list_keys(caller: Caller, keys: PersonalKeys, user: str | None = None) -> dict[str, Any]:
    """The caller's keys; with `user`, that person's (an administrator's listing)."""
    _require_entra(caller)
    if user is None or user == caller.user_id:
        return {"data": [record.public() for record in await keys.owned(caller)]}
    _require_admin(caller, keys, "Listing another person's personal keys")
    records = await keys.of(user)
    return {"data": [{**r.public(), "owner": {"id": r.owner.user_id, "name": r.owner.name}} for r in records]}


async def revoke_key(caller: Caller, key_id: str, keys: PersonalKeys) -> dict[str, Any]:
    _require_entra(caller)
    await keys.revoke(caller, key_id)
    return {"id": key_id, "revoked": True}


def _require_admin(caller: Caller, keys: PersonalKeys, what: str) -> None:
    if keys.administers(caller):
        return
    role = f"the app role {keys.admin_role!r} (ENTRA_ADMIN_ROLE)" if keys.admin_role else "ENTRA_ADMIN_ROLE, which is not set"
    raise BridgeError("permission_error", f"{what} needs {role}, held by a person signed in with Microsoft Entra ID")


async def usage(caller: Caller, budget: Budget, keys: PersonalKeys, user: str | None = None) -> dict[str, Any]:
    """The caller's usage; with `user`, that person's (an administrator's reading)."""
    if user is None or user in (caller.user_id, caller.name):
        return await report(budget, caller.user_id, caller.name, budget.limits(caller))
    _require_admin(caller, keys, "Reading another person's usage")
    found = await budget.store.find_user(user.strip())
    if found is None:
        raise BridgeError("not_found_error", f"No usage is recorded for {user[:200]!r} (an object id or user principal name)")
    return await report(budget, *found)


async def oauth_usage(caller: Caller, budget: Budget) -> dict[str, Any]:
    """The caller's dollar budgets in Claude Code's usage shape; without one, what they spent."""
    standing = await budget.standing_now(caller)
    spent = await budget.spent_so_far(caller.user_id) if described(standing) is None else Spent()
    return usage_page(standing, spent)


def export_month(month: str | None) -> date:
    """The first day of `month` (YYYY-MM), or a 400 that says how to write it."""
    match = MONTH.fullmatch(month or "")
    if match is None:
        raise invalid_request(f"month must be a month as YYYY-MM, e.g. {utc_now():%Y-%m}; got {(month or '')[:40]!r}")
    return date(int(match[1]), int(match[2]), 1)


async def export_usage(caller: Caller, budget: Budget, keys: PersonalKeys, month: str | None) -> str:
    """Everyone's usage of `month` as CSV, for chargeback (ENTRA_ADMIN_ROLE)."""
    _require_admin(caller, keys, "Exporting everyone's usage")
    first = export_month(month)
    await budget.settle()
    return chargeback_csv(first, await budget.store.everyone(first))
