"""Which deployment serves a request: Claude model families map onto tiers.

    requested model contains    deployment
    -------------------------   --------------------------------------------
    "opus"                      BIG_MODEL
    "sonnet"                    MIDDLE_MODEL (default: BIG_MODEL)
    "haiku"                     SMALL_MODEL  (default: MIDDLE_MODEL)
    anything else               the name itself, as a deployment name
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.errors import misconfigured
from bridge.settings import Settings

TIERS: tuple[tuple[str, str, str], ...] = (
    ("opus", "BIG_MODEL", "big_model"),
    ("sonnet", "MIDDLE_MODEL", "middle_model"),
    ("haiku", "SMALL_MODEL", "small_model"),
)


@dataclass(frozen=True, slots=True)
class Route:
    deployment: str
    setting: str
    """The setting to change to pick another deployment (or "model" for a pass-through name)."""

    @property
    def source(self) -> str:
        return "the request's model name" if self.setting == "model" else self.setting


def resolve(model: str, settings: Settings) -> Route:
    lowered = model.lower()
    for family, setting, attribute in TIERS:
        if family in lowered:
            deployment = getattr(settings, attribute)
            if deployment is None:
                raise misconfigured(
                    f"{setting} is not set: set it to the Azure OpenAI deployment that serves {family} requests ('{model}')",
                )
            return Route(deployment, setting)
    return Route(model, "model")
