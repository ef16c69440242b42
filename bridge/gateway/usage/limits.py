"""Who gets which token budget: the defaults, and more (or less) for app roles and groups.

Settings:

    BUDGET_DAILY_TOKENS     tokens a user may use per UTC day; unset: no daily limit
    BUDGET_MONTHLY_TOKENS   tokens a user may use per calendar month (UTC); unset: no monthly limit
    BUDGET_OVERRIDES        entries separated by ";", each  role:<app role>=<limits>  or  group:<group object id>=<limits>,
                            <limits> being daily:<n> and/or monthly:<n> separated by ","; <n> is a whole number, with
                            an optional k, M or G suffix (thousand, million, billion), or "unlimited".
                            Example: role:Bridge.Lead=daily:2M,monthly:40M;group:0b0e…=daily:unlimited

A caller's limit for a period is the default, unless overrides that match them
(one of their app roles, one of their groups) set that period: then the most
generous of those wins (unlimited beats any number).

A person in too many groups gets a token that lists none (a groups overage,
`Caller.groups_overage`): their groups are unknown.  When none of their app
roles matches an override, any group override could be theirs, so the most
restrictive of the default and every group override applies (the most generous
rule can only be raised by a group, never lowered, once a role matched).  The
bridge does not ask Microsoft Graph for the groups: that needs an application
permission (GroupMember.Read.All) an administrator must consent to, and a call
on the request path; the app registration emits only the groups assigned to
the application (`groupMembershipClaims: ApplicationGroup`), so an overage needs
more than 200 of those, which only an administrator can assign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bridge.config.kinds import GUID_PATTERN, parse_token_count
from bridge.gateway.auth.caller import Caller

Period = Literal["daily", "monthly"]
OverrideKind = Literal["role", "group"]
_PERIODS: dict[str, Period] = {"daily": "daily", "monthly": "monthly"}
_KINDS: dict[str, OverrideKind] = {"role": "role", "group": "group"}


@dataclass(frozen=True, slots=True)
class Override:
    kind: OverrideKind
    name: str
    """The app role's value, or the group's object id."""
    limits: Mapping[Period, int | None]
    """Only the periods the override sets; None: unlimited."""

    def matches(self, caller: Caller) -> bool:
        if self.kind == "role":
            return self.name in caller.roles
        return self.name.lower() in {group.lower() for group in caller.groups}


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    daily: int | None = None
    monthly: int | None = None
    overrides: tuple[Override, ...] = ()

    def limit(self, caller: Caller, period: Period) -> int | None:
        default = self.daily if period == "daily" else self.monthly
        granted = [o.limits[period] for o in self.overrides if period in o.limits and o.matches(caller)]
        if granted:
            return None if None in granted else max(v for v in granted if v is not None)
        if caller.groups_overage:
            could = [o.limits[period] for o in self.overrides if o.kind == "group" and period in o.limits]
            numbers = [v for v in (default, *could) if v is not None]
            return min(numbers) if numbers else None
        return default

    @property
    def limits_anyone(self) -> bool:
        """False when no caller can have a limit (then admission reads and writes nothing)."""
        numbers = [self.daily, self.monthly, *(v for o in self.overrides for v in o.limits.values())]
        return any(v is not None for v in numbers)


def parse_overrides(raw: str, setting: str = "BUDGET_OVERRIDES") -> tuple[tuple[Override, ...], list[str]]:
    """The overrides a setting describes, and what is wrong with it (messages naming `setting`); never raises."""
    overrides: list[Override] = []
    problems: list[str] = []
    for entry in (e.strip() for e in raw.split(";")):
        if not entry:
            continue
        who, equals, what = entry.partition("=")
        kind_text, colon, name = (part.strip() for part in who.partition(":"))
        kind = _KINDS.get(kind_text)
        if not equals or not colon or kind is None or not name:
            problems.append(
                f"{setting}: {entry!r} must look like role:<app role>=daily:<n>,monthly:<n> or group:<group object id>=daily:<n>"
            )
            continue
        if kind == "group" and not GUID_PATTERN.fullmatch(name):
            problems.append(f"{setting}: groups are named by their object id (a GUID, as tokens carry them), got {name!r}")
            continue
        limits: dict[Period, int | None] = {}
        for item in (i.strip() for i in what.split(",")):
            period_text, _, count = (part.strip() for part in item.partition(":"))
            period = _PERIODS.get(period_text)
            if period is None:
                problems.append(f"{setting}: in {entry!r}, {item!r} must be daily:<n> or monthly:<n>")
                continue
            try:
                limits[period] = parse_token_count(count)
            except ValueError as exc:
                problems.append(f"{setting}: in {entry!r}, {period_text} {exc}")
        if limits:
            overrides.append(Override(kind, name, limits))
    return tuple(overrides), problems
