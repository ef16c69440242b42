"""Who is calling the bridge: one value that every layer (logs, budgets, key endpoints) reads.

How the caller proved who they are (`method`):

    method   user_id               proof
    entra    Entra object id       a person's Microsoft Entra ID access token for the bridge's app registration
    app      the service           an application's own token (client credentials), let in by the app role
             principal's oid       ENTRA_AUTOMATION_ROLE; never a person, never a personal key
    key      the key owner's oid   a personal key (`cab_...`), made by its owner while signed in with Entra
    login    Entra object id       the bridge's own access token from Claude Code's /login (a device sign-in
                                   through Entra, refreshed through Entra: `bridge.gateway.login`)
    token    "shared-token"        the one shared ANTHROPIC_AUTH_TOKEN (everyone who has it is one caller)
    open     "anonymous"           no client authentication configured
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

AuthMethod = Literal["entra", "app", "key", "login", "token", "open"]

SHARED_TOKEN_USER = "shared-token"
ANONYMOUS_USER = "anonymous"


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    """The Entra object id (`oid`) of a signed-in user or key owner; SHARED_TOKEN_USER or ANONYMOUS_USER otherwise."""
    name: str
    """What people read: preferred_username (v2), upn, name, or the object id when the token has none."""
    method: AuthMethod
    tenant_id: str = ""
    roles: frozenset[str] = frozenset()
    """App roles of the bridge's app registration assigned to the user (the token's `roles`)."""
    groups: frozenset[str] = frozenset()
    """Group object ids (the token's `groups`: the groups assigned to the bridge's enterprise application)."""
    key_id: str | None = None
    """The personal key's id when method is "key"."""
    groups_overage: bool = False
    """The token listed none of the person's groups, for they are in too many (an overage): `groups` is unknown."""

    def belongs(self, kind: str, name: str) -> bool:
        """Whether the caller has the app role `name` (`kind` "role") or is in the group whose object id is `name`
        ("group"): how budget overrides and the model policy match people."""
        if kind == "role":
            return name in self.roles
        return name.lower() in {group.lower() for group in self.groups}

    @property
    def signed_in(self) -> bool:
        """True for a person known to Entra ID (directly, through their personal key, or through /login)."""
        return self.method in ("entra", "key", "login")

    def log_fields(self) -> dict[str, str]:
        """The fields a request's log line gets: who, through which key (never a secret), their app roles and
        groups (comma-separated, sorted; groups "overage" when the token listed none)."""
        fields = {"user_id": self.user_id, "user_name": self.name, "auth": self.method}
        if self.key_id is not None:
            fields["key_id"] = self.key_id
        if self.roles:
            fields["roles"] = ",".join(sorted(self.roles))
        if self.groups_overage:
            fields["groups"] = "overage"
        elif self.groups:
            fields["groups"] = ",".join(sorted(self.groups))
        return fields


def shared_token_caller() -> Caller:
    return Caller(SHARED_TOKEN_USER, "shared token", "token")


def anonymous_caller() -> Caller:
    return Caller(ANONYMOUS_USER, "anonymous", "open")


def caller_fields(person: Caller) -> dict[str, Any]:
    """What a table row keeps of a person (a personal key's owner, a /login session's): roles and groups as JSON lists."""
    return {
        "OwnerId": person.user_id,
        "OwnerName": person.name,
        "TenantId": person.tenant_id,
        "Roles": json.dumps(sorted(person.roles)),
        "Groups": json.dumps(sorted(person.groups)),
        "GroupsOverage": person.groups_overage,
    }


def _strings(raw: object) -> frozenset[str]:
    values = json.loads(raw) if isinstance(raw, str) else []
    return frozenset(v for v in values if isinstance(v, str)) if isinstance(values, list) else frozenset()


def caller_of(row: Mapping[str, Any], method: AuthMethod) -> Caller:
    """The person a row keeps (`caller_fields`), as a caller who proved themselves by `method`."""
    return Caller(
        str(row["OwnerId"]),
        str(row.get("OwnerName", "")),
        method,
        str(row.get("TenantId", "")),
        _strings(row.get("Roles")),
        _strings(row.get("Groups")),
        groups_overage=row.get("GroupsOverage") is True,
    )
