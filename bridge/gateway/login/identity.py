"""A signed-in person as the login rows and tokens keep them: the `Caller` fields, flattened and back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.gateway.auth.caller import Caller


def identity_fields(person: Caller) -> dict[str, Any]:
    """The fields a row keeps of `person` (JSON lists for roles and groups)."""
    return {
        "UserId": person.user_id,
        "UserName": person.name,
        "TenantId": person.tenant_id,
        "Roles": json.dumps(sorted(person.roles)),
        "Groups": json.dumps(sorted(person.groups)),
        "GroupsOverage": person.groups_overage,
    }


def _strings(raw: object) -> frozenset[str]:
    values = json.loads(raw) if isinstance(raw, str) else raw
    return frozenset(v for v in values if isinstance(v, str)) if isinstance(values, list) else frozenset()


def person_of(row: Mapping[str, Any]) -> Caller:
    """The person a row names, as a caller signed in with /login."""
    return Caller(
        str(row.get("UserId", "")),
        str(row.get("UserName", "")),
        "login",
        str(row.get("TenantId", "")),
        _strings(row.get("Roles")),
        _strings(row.get("Groups")),
        groups_overage=row.get("GroupsOverage") is True,
    )
