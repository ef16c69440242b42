"""What the bridge has learned about each deployment, per pool: the API it needs, the parameters it refuses.

One per process, keyed by the pool (its first endpoint) and the
deployment name.  It is written only by the exchange's recovery steps, from
Azure's own answers: a deployment that said it needs the other upstream API
is switched for good; a parameter it refused (`adapt.Adaptation`) is adapted
on every later request, for the API it was learned on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.model import Api
from bridge.upstreams.adapt import Adaptation


@dataclass(slots=True)
class Knowledge:
    api: Api | None = None
    adaptations: dict[Api, Adaptation] = field(default_factory=dict)


class DeploymentKnowledge:
    def __init__(self) -> None:
        self._known: dict[tuple[str, str], Knowledge] = {}

    def _of(self, pool: str, deployment: str) -> Knowledge:
        return self._known.setdefault((pool, deployment), Knowledge())

    def api(self, pool: str, deployment: str) -> Api | None:
        known = self._known.get((pool, deployment))
        return known.api if known is not None else None

    def adaptation(self, pool: str, deployment: str, api: Api) -> Adaptation:
        known = self._known.get((pool, deployment))
        return known.adaptations.get(api, Adaptation()) if known is not None else Adaptation()

    def remember_api(self, pool: str, deployment: str, api: Api) -> None:
        self._of(pool, deployment).api = api

    def remember_adaptation(self, pool: str, deployment: str, api: Api, adaptation: Adaptation) -> None:
        self._of(pool, deployment).adaptations[api] = adaptation
