"""MANAGED_SETTINGS: the Claude Code settings an organization pushes to people by app role and group, and the
document `GET /managed/settings` serves each person (Claude Code's gateway protocol, "Managed settings").

The setting holds a JSON list of entries, applied in the order written:

    [{"for": "everyone",              "settings": {"permissions": {"deny": ["Bash(rm -rf:*)"]}}},
     {"for": "role:Bridge.Lead",      "settings": {"env": {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}}},
     {"for": "group:<group object id>", "settings": {"model": "sonnet"}}]

`settings` is a Claude Code `managed-settings.json` (https://code.claude.com/docs/en/settings), passed on as
written.  A person gets the merge of every entry that matches them (everyone; one of their app roles; one of
their groups, by object id as tokens carry them), later entries over earlier ones:

    both values are objects    merged key by key, the same way
    both values are lists      the earlier list, then what the later one adds (permission rules add up)
    otherwise                  the later value

No entry matches: no managed policy (404).  An entry that matches with `{}` is an empty policy (200 with
`{}`): not the same thing, as the protocol says.  A person whose token lists no groups because they are in too
many (`Caller.groups_overage`) gets no group entry: which groups they are in is unknown.

What is served, and the checksum the client sends back as `If-None-Match`:

    {"uuid": <checksum>, "checksum": <checksum>, "settings": {...}}
    checksum = "sha256:" + hex SHA-256 of the settings as JSON, keys sorted at every level, no whitespace,
               written as Claude Code (JavaScript's JSON.stringify) writes it: non-ASCII text as UTF-8,
               numbers in JavaScript's form (1.0 is 1, 1e21 is 1e+21, 1e-7 is 1e-7)

The uuid is the checksum, as the reference gateway serves it: one id per policy content.

A session whose settings set `CLAUDE_CODE_GATEWAY_HINT_HEADERS=1` sends, on each model request,
`x-claude-code-managed-settings-checksum`: the same checksum over the managed settings as it loaded them.  The
request's record says how it compares with what this person is served now (`session_settings`), so an admin
finds the machines whose settings are stale, edited or missing; the value itself is never written (a plain
SHA-256 lets anyone test guesses at a short secret in `env`):

    the session sent              the person is served       record's managed_settings
    ----------------------------  -------------------------  -------------------------
    this person's checksum        a policy                   served
    another checksum              a policy, or none          other   (stale, edited on the machine, or loaded
                                                                      differently: the protocol expects a few)
    nothing                       a policy                   none    (an older client, no hint headers,
                                                                      `claude ssh`, or unmanaged)
    nothing                       none                       (not written)

It is observability, never a control: the client computes the value itself and anyone can send any.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.config.kinds import GUID_PATTERN
from bridge.gateway.auth.caller import Caller

Audience = Literal["everyone", "role", "group"]
EVERYONE: Audience = "everyone"
CHECKSUM_PREFIX = "sha256:"
SESSION_CHECKSUM_HEADER = "x-claude-code-managed-settings-checksum"
SessionSettings = Literal["served", "other", "none"]
MAX_DOCUMENTS = 1024
"""Documents kept at most (one per combination of entries that people match; a policy has few)."""
MAX_SAFE_INTEGER = 2**53 - 1
"""Beyond this a JavaScript number is no longer the integer written (the client reads it as a double)."""


@dataclass(frozen=True, slots=True)
class ManagedEntry:
    audience: Audience
    name: str
    """The app role's value or the group's object id; empty for everyone."""
    settings: Mapping[str, Any]

    def applies_to(self, caller: Caller) -> bool:
        if self.audience == EVERYONE:
            return True
        if self.audience == "group" and caller.groups_overage:
            return False
        return caller.belongs(self.audience, self.name)


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """What one person is served."""

    settings: dict[str, Any]
    checksum: str

    def body(self) -> dict[str, Any]:
        return {"uuid": self.checksum, "checksum": self.checksum, "settings": self.settings}


@dataclass(frozen=True, slots=True)
class ManagedSettings:
    entries: tuple[ManagedEntry, ...] = ()
    problem: str | None = None
    """Why MANAGED_SETTINGS cannot be served (malformed): the route answers 500, so clients keep what they hold."""

    documents: dict[tuple[int, ...], PolicyDocument] = field(default_factory=dict, compare=False, repr=False)
    """Each document made so far, by the entries it merges (every model request asks for its caller's)."""

    def document(self, caller: Caller) -> PolicyDocument | None:
        """The merge of the entries that apply to `caller`; None when none does (no managed policy)."""
        applying = tuple(index for index, entry in enumerate(self.entries) if entry.applies_to(caller))
        if not applying:
            return None
        made = self.documents.get(applying)
        if made is None:
            settings: dict[str, Any] = {}
            for index in applying:
                settings = merged(settings, self.entries[index].settings)
            if len(self.documents) >= MAX_DOCUMENTS:
                self.documents.clear()
            made = self.documents[applying] = PolicyDocument(settings, checksum(settings))
        return made


NO_MANAGED_SETTINGS = ManagedSettings()


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` merged into `base` (see the module's table); neither is changed."""
    result = dict(base)
    for key, value in over.items():
        before = result.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            result[key] = merged(before, value)
        elif isinstance(before, list) and isinstance(value, list):
            result[key] = before + [item for item in value if item not in before]
        else:
            result[key] = value
    return result


def _utf16(key: str) -> bytes:
    """The order JavaScript sorts strings in: by UTF-16 code unit."""
    return key.encode("utf-16-be", "surrogatepass")


def js_number(value: float) -> str:
    """A number as JavaScript's JSON.stringify writes it (ECMA-262 Number::toString, radix 10)."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = int(exponent or 0) + len(whole) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    shown = digits if count == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{shown}e{'+' if power >= 0 else '-'}{abs(power)}"


def canonical_json(value: Any) -> str:
    """`value` as JSON with keys sorted at every level and no whitespace, as Claude Code computes its checksum."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: _utf16(item[0]))
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int) and abs(value) <= MAX_SAFE_INTEGER:
        return str(value)
    return js_number(float(value))


def checksum(settings: Mapping[str, Any]) -> str:
    return CHECKSUM_PREFIX + hashlib.sha256(canonical_json(dict(settings)).encode()).hexdigest()


def _audience(text: object) -> tuple[Audience, str]:
    if not isinstance(text, str):
        raise ValueError('"for" must be "everyone", "role:<app role>" or "group:<group object id>"')
    if text.strip() == EVERYONE:
        return EVERYONE, ""
    kind, colon, name = (part.strip() for part in text.partition(":"))
    if kind == "role" and colon and name:
        return "role", name
    if kind == "group" and colon and name:
        if not GUID_PATTERN.fullmatch(name):
            raise ValueError(f"groups are named by their object id (a GUID, as tokens carry them), got {name!r}")
        return "group", name
    raise ValueError(f'"for" must be "everyone", "role:<app role>" or "group:<group object id>", got {text!r}')


def parse_managed_settings(raw: str, setting: str = "MANAGED_SETTINGS") -> tuple[ManagedSettings, list[str]]:
    """The entries `raw` declares, and what is wrong with it (messages naming `setting`); never raises.  A problem
    anywhere makes the whole setting unservable (half a policy must not pass for the policy)."""
    try:
        declared = json.loads(raw, parse_constant=_not_json)
    except ValueError as exc:
        return _broken(f"{setting} is not valid JSON: {exc}")
    if not isinstance(declared, list):
        return _broken(f'{setting} must be a JSON list of {{"for": ..., "settings": {{...}}}} entries')
    entries: list[ManagedEntry] = []
    problems: list[str] = []
    for number, entry in enumerate(declared, 1):
        try:
            if not isinstance(entry, dict) or set(entry) != {"for", "settings"}:
                raise ValueError('must be an object with exactly "for" and "settings"')
            audience, name = _audience(entry["for"])
            if not isinstance(entry["settings"], dict):
                raise ValueError('"settings" must be a JSON object (a Claude Code managed-settings.json)')
            entries.append(ManagedEntry(audience, name, entry["settings"]))
        except ValueError as reason:
            problems.append(f"{setting}: entry {number} {reason}")
    if problems:
        return ManagedSettings(problem="; ".join(problems)), problems
    return ManagedSettings(tuple(entries)), []


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _broken(problem: str) -> tuple[ManagedSettings, list[str]]:
    return ManagedSettings(problem=problem), [problem]


def unchanged(if_none_match: str | None, current: str) -> bool:
    """Whether an `If-None-Match` names the `current` checksum (quoted as the ETag, or bare; weak, or in a list).
    `*` never does: the protocol asks for the answer given without the header (Claude Desktop's start-up check)."""
    return any(tag.strip().removeprefix("W/").strip('"') == current for tag in (if_none_match or "").split(","))


def session_settings(document: PolicyDocument | None, sent: str | None) -> SessionSettings | None:
    """How the settings a session says it runs under (`sent`: its checksum header) compare with the `document`
    its person is served (see the module's table); None when neither exists."""
    if sent is None:
        return None if document is None else "none"
    return "served" if document is not None and sent.strip() == document.checksum else "other"
