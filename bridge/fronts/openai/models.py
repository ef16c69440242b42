"""The model names an OpenAI-format client picks, and the tier and effort each one asks for.

    client model name                        internal Request.model      reasoning effort
    ---------------------------------------  --------------------------  -----------------
    gpt-high, gpt-medium, gpt-low,           "opus" (the BIG tier)       high, medium, low,
    gpt-minimal (Cursor's custom models)                                 minimal
    a tier's deployment (BIG_MODEL's value,  that tier's family:         the deployment's
    then MIDDLE_MODEL's, SMALL_MODEL's)      "opus", "sonnet", "haiku"   default
    anything else                            the name itself: routing's  the deployment's
                                             family match, or a          default
                                             deployment name

A `reasoning_effort` or `reasoning.effort` in the request wins over an alias's
effort.  Naming a tier's deployment takes that tier's route, so the tier's
settings (its API among them) apply whichever name the client used.

`GET /v1/models` lists the aliases, then each configured tier's deployment once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.model import ReasoningEffort, Request
from bridge.settings import Settings

BIG_TIER = "opus"
ALIASES: dict[str, ReasoningEffort] = {
    "gpt-high": "high",
    "gpt-medium": "medium",
    "gpt-low": "low",
    "gpt-minimal": "minimal",
}
OWNER = "claude-azure-bridge"


def _tiers(settings: Settings) -> tuple[tuple[str, str | None], ...]:
    return (("opus", settings.big_model), ("sonnet", settings.middle_model), ("haiku", settings.small_model))


def target(request: Request, settings: Settings) -> Request:
    """`request` with `model` and `reasoning_effort` as the routing should see them."""
    name = request.model.strip().lower()
    if name in ALIASES:
        return replace(request, model=BIG_TIER, reasoning_effort=request.reasoning_effort or ALIASES[name])
    for family, deployment in _tiers(settings):
        if deployment is not None and deployment.lower() == name:
            return replace(request, model=family)
    return request


def model_ids(settings: Settings) -> list[str]:
    deployments = [deployment for _, deployment in _tiers(settings) if deployment is not None]
    return list(dict.fromkeys([*ALIASES, *deployments]))


def model_list(settings: Settings) -> dict[str, Any]:
    """The OpenAI `list` object of `GET /v1/models`."""
    return {
        "object": "list",
        "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": OWNER} for model_id in model_ids(settings)],
    }
