"""`GET /v1/models` for Anthropic clients: the tiers as Claude models (Claude Code's gateway model discovery).

With `CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1` Claude Code asks the
gateway for its models in the Anthropic list format and keeps the ids that
start with `claude`.  The bridge routes by family name, so each configured
tier is listed under the newest Claude id of its family:

    id                  served by (setting, with its fallbacks)      display name
    ------------------  -------------------------------------------  ------------------------------------------
    claude-opus-5-5     BIG_MODEL                                     "Opus on <deployment> (BIG_MODEL, Azure)"
    claude-sonnet-5-5   MIDDLE_MODEL (→ BIG_MODEL)                    "Sonnet on <deployment> (...)"
    claude-haiku-5-5    SMALL_MODEL (→ MIDDLE_MODEL → BIG_MODEL)      "Haiku on <deployment> (...)"

A tier that is not configured is not listed, nor one the caller's model policy
(MODEL_POLICY) does not let them use.
"""

from __future__ import annotations

from typing import Any

from bridge.config.load import Settings
from bridge.config.table import FAMILY_TIERS

LISTED_AS = {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}
"""The Claude id each family's tier is listed under: the family's newest."""
LISTED_SINCE = "2026-01-01T00:00:00Z"


def model_list(settings: Settings, tiers: frozenset[str] | None = None) -> dict[str, Any]:
    """The Anthropic `list` of models for `GET /v1/models`: the configured tiers (of `tiers` only, when given)."""
    data = []
    for family, setting in FAMILY_TIERS.items():
        tier = settings.tier(setting)
        if tier is not None and (tiers is None or family in tiers):
            display = f"{family.capitalize()} on {tier.deployment} ({tier.setting}, Azure OpenAI)"
            data.append({"type": "model", "id": LISTED_AS[family], "display_name": display, "created_at": LISTED_SINCE})
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
