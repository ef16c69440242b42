"""Who gets which budget and rate limit: the defaults, and more (or less) for app roles and groups.

Settings:

    BUDGET_DAILY_TOKENS     tokens a user may use per UTC day; unset: no daily limit
    BUDGET_MONTHLY_TOKENS   tokens a user may use per calendar month (UTC); unset: no monthly limit
    BUDGET_DAILY_USD        US dollars a user may spend per UTC day (at each deployment's price); unset: no limit
    BUDGET_MONTHLY_USD      US dollars a user may spend per calendar month (UTC); unset: no limit
    BUDGET_OVERRIDES        entries separated by ";", each  role:<app role>=<limits>  or  group:<group object id>=<limits>,
                            <limits> being daily:<n>, monthly:<n> (tokens: a whole number, with an optional k, M or G
                            suffix), daily_usd:<usd>, monthly_usd:<usd> (dollars, e.g. 50 or 12.50), separated by
                            ","; each may be "unlimited".
                            Example: role:Bridge.Lead=daily_usd:50,monthly_usd:800;group:0b0e…=daily:unlimited
    RATE_LIMIT_REQUESTS_PER_MINUTE, RATE_LIMIT_TOKENS_PER_MINUTE   per user, every instance together
    BUDGET_WARN_PERCENT     past this share of a budget (default 80), answers carry a warning

A caller's limit for a budget is the default, unless overrides that match them
(one of their app roles, one of their groups) set that budget: then the most
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

from bridge.config.kinds import GUID_PATTERN, parse_dollars, parse_token_count
from bridge.gateway.auth.caller import Caller

Budget = Literal["daily", "monthly", "daily_usd", "monthly_usd"]
"""A budget's key in BUDGET_OVERRIDES: tokens per day or month, dollars per day or month."""
OverrideKind = Literal["role", "group"]
BUDGETS: dict[str, Budget] = {"daily": "daily", "monthly": "monthly", "daily_usd": "daily_usd", "monthly_usd": "monthly_usd"}
DEFAULT_WARN_PERCENT = 80
_KINDS: dict[str, OverrideKind] = {"role": "role", "group": "group"}


@dataclass(frozen=True, slots=True)
class Override:
    kind: OverrideKind
    name: str
    """The app role's value, or the group's object id."""
    limits: Mapping[Budget, int | None]
    """Only the budgets the override sets (tokens, or micro-dollars); None: unlimited."""

    def matches(self, caller: Caller) -> bool:
        return caller.belongs(self.kind, self.name)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one caller may use: tokens and micro-dollars per day and month, requests and tokens per minute
    (None: no limit)."""

    daily: int | None = None
    monthly: int | None = None
    daily_usd: int | None = None
    monthly_usd: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def budget(self, name: Budget) -> int | None:
        limit: int | None = getattr(self, name)
        return limit

    @property
    def any(self) -> bool:
        """Whether anything is limited (else admission reads and writes nothing)."""
        budgets = (self.daily, self.monthly, self.daily_usd, self.monthly_usd)
        return any(v is not None for v in budgets) or self.rated

    @property
    def in_dollars(self) -> bool:
        return self.daily_usd is not None or self.monthly_usd is not None

    @property
    def rated(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    daily: int | None = None
    monthly: int | None = None
    overrides: tuple[Override, ...] = ()
    daily_usd: int | None = None
    """Micro-dollars."""
    monthly_usd: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    warn_percent: int = DEFAULT_WARN_PERCENT

    def limit(self, caller: Caller, budget: Budget) -> int | None:
        default: int | None = getattr(self, budget)
        granted = [o.limits[budget] for o in self.overrides if budget in o.limits and o.matches(caller)]
        if granted:
            return None if None in granted else max(v for v in granted if v is not None)
        if caller.groups_overage:
            could = [o.limits[budget] for o in self.overrides if o.kind == "group" and budget in o.limits]
            numbers = [v for v in (default, *could) if v is not None]
            return min(numbers) if numbers else None
        return default

    def limits(self, caller: Caller) -> Limits:
        """Everything that limits `caller`."""
        if not self.limits_anyone:
            return NO_LIMITS
        return Limits(
            self.limit(caller, "daily"),
            self.limit(caller, "monthly"),
            self.limit(caller, "daily_usd"),
            self.limit(caller, "monthly_usd"),
            self.requests_per_minute,
            self.tokens_per_minute,
        )

    @property
    def limits_anyone(self) -> bool:
        """False when no caller can have a limit (then admission reads and writes nothing)."""
        numbers = [
            self.daily,
            self.monthly,
            self.daily_usd,
            self.monthly_usd,
            self.requests_per_minute,
            self.tokens_per_minute,
            *(v for o in self.overrides for v in o.limits.values()),
        ]
        return any(v is not None for v in numbers)

    @property
    def dollars_anyone(self) -> bool:
        """Whether anyone can have a budget in dollars (then every deployment needs a price)."""
        numbers = [self.daily_usd, self.monthly_usd]
        numbers += [o.limits.get(b) for o in self.overrides for b in ("daily_usd", "monthly_usd") if b in o.limits]
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
                f"{setting}: {entry!r} must look like role:<app role>=daily:<n>,monthly:<n>,daily_usd:<usd>,monthly_usd:<usd> "
                "or group:<group object id>=daily:<n>"
            )
            continue
        if kind == "group" and not GUID_PATTERN.fullmatch(name):
            problems.append(f"{setting}: groups are named by their object id (a GUID, as tokens carry them), got {name!r}")
            continue
        limits: dict[Budget, int | None] = {}
        for item in (i.strip() for i in what.split(",")):
            key, _, amount = (part.strip() for part in item.partition(":"))
            budget = BUDGETS.get(key)
            if budget is None:
                problems.append(
                    f"{setting}: in {entry!r}, {item!r} must be daily:<n>, monthly:<n>, daily_usd:<usd> or monthly_usd:<usd>"
                )
                continue
            try:
                limits[budget] = parse_dollars(amount) if budget.endswith("_usd") else parse_token_count(amount)
            except ValueError as exc:
                problems.append(f"{setting}: in {entry!r}, {key} {exc}")
        if limits:
            overrides.append(Override(kind, name, limits))
    return tuple(overrides), problems
