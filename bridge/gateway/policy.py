"""MODEL_POLICY: which model tiers each person may use, by app role and group.

    MODEL_POLICY="role:Bridge.Lead=opus,sonnet,haiku;group:<group object id>=opus,sonnet;default=sonnet,haiku"

The tiers are Claude Code's model families, most capable first: opus (BIG_MODEL),
sonnet (MIDDLE_MODEL), haiku (SMALL_MODEL).  A person may use the tiers of every
entry that matches them (one of their app roles, one of their groups); when none
matches, the `default` entry's (no default: every tier).  Unset: everyone may use
every tier.

A person in too many groups for their token to list them (a groups overage) whose
roles match no entry gets only the default's tiers that every group entry also
allows (their groups are unknown, so the most restrictive could be theirs; see
`bridge.gateway.usage.limits`).

What is done with it (`bridge.serving.tiers.within`): a request for a tier the
person may not use (by family name, by a tier's deployment name, or by a
deployment no tier names) is served by the most capable tier they may use, and
the answer says so; GET /v1/models lists only their tiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.config.kinds import GUID_PATTERN
from bridge.config.table import FAMILY_TIERS
from bridge.gateway.auth.caller import Caller

FAMILIES = tuple(FAMILY_TIERS)
"""The tiers, most capable first: opus, sonnet, haiku."""
DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    kind: str
    """"role" or "group"."""
    name: str
    tiers: frozenset[str]

    def matches(self, caller: Caller) -> bool:
        return caller.belongs(self.kind, self.name)


@dataclass(frozen=True, slots=True)
class ModelPolicy:
    entries: tuple[PolicyEntry, ...] = ()
    default: frozenset[str] | None = None

    @property
    def applies(self) -> bool:
        return bool(self.entries) or self.default is not None

    def tiers(self, caller: Caller) -> frozenset[str] | None:
        """The tiers `caller` may use; None: every tier (no policy)."""
        if not self.applies:
            return None
        matched = [entry.tiers for entry in self.entries if entry.matches(caller)]
        if matched:
            return frozenset().union(*matched)
        default = self.default if self.default is not None else frozenset(FAMILIES)
        if caller.groups_overage:
            for entry in self.entries:
                if entry.kind == "group":
                    default &= entry.tiers
        return default


def most_capable(tiers: frozenset[str]) -> str | None:
    return next((family for family in FAMILIES if family in tiers), None)


def _tiers(text: str) -> frozenset[str]:
    named = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in named if name not in FAMILIES]
    if unknown or not named:
        raise ValueError(f"tiers must be some of {', '.join(FAMILIES)}, got {text.strip()!r}")
    return frozenset(named)


def parse_policy(raw: str, setting: str = "MODEL_POLICY") -> tuple[ModelPolicy, list[str]]:
    """The policy `raw` describes, and what is wrong with it (messages naming `setting`); never raises."""
    entries: list[PolicyEntry] = []
    default: frozenset[str] | None = None
    problems: list[str] = []
    for entry in (e.strip() for e in raw.split(";")):
        if not entry:
            continue
        who, equals, what = (part.strip() for part in entry.partition("="))
        kind, colon, name = (part.strip() for part in who.partition(":"))
        try:
            if not equals:
                raise ValueError("must look like role:<app role>=opus,sonnet or default=sonnet,haiku")
            tiers = _tiers(what)
            if who == DEFAULT:
                default = tiers
            elif colon and kind in ("role", "group") and name:
                if kind == "group" and not GUID_PATTERN.fullmatch(name):
                    raise ValueError(f"groups are named by their object id (a GUID, as tokens carry them), got {name!r}")
                entries.append(PolicyEntry(kind, name, tiers))
            else:
                raise ValueError("must start with role:<app role>=, group:<group object id>= or default=")
        except ValueError as reason:
            problems.append(f"{setting}: {entry!r} {reason}")
    return ModelPolicy(tuple(entries), default), problems
