"""Azure Cost Management's Query API: what Azure billed for the bridge's Azure OpenAI resources on one UTC day.

One query per resource group (Cost Management answers at a resource group's scope and above, never a
resource's own), filtered to the resources and grouped by resource:

    POST {AZURE_MANAGEMENT_URL}/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.CostManagement/query
         ?api-version=2025-03-01                    (Authorization: Bearer, the bridge's identity; ClientType)
    {"type": "ActualCost", "timeframe": "Custom", "timePeriod": {"from": "<day>T00:00:00Z", "to": "<day>T23:59:59Z"},
     "dataset": {"granularity": "Daily",
                 "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"},
                                 "totalCostUSD": {"name": "CostUSD", "function": "Sum"}},
                 "grouping": [{"type": "Dimension", "name": "ResourceId"}],
                 "filter": {"dimensions": {"name": "ResourceId", "operator": "In", "values": [<ids>]}}}}

    answer                                      read as
    200 {"properties": {"columns": [{"name", "type"}], "rows": [[...]], "nextLink": <url> | null}}
                                                rows summed per ResourceId (lower case: Azure's parsers lower-case
                                                it); columns found by name, never position: CostUSD, else Cost
                                                or PreTaxCost (legacy EA scopes) with Currency; nextLink POSTed
                                                the same body until null (only on the same scheme and host:
                                                the token goes with it)
    204 (no content)                            no cost that day
    429                                         waited out (the largest of the QPU, entity, tenant, client-type,
                                                consumption retry-after headers and Retry-After, at most
                                                MAX_WAIT_SECONDS), up to RETRIES times; azure-core's retry
                                                policy reads none of the Cost Management ones
    any other status                            `CostQueryError` with Azure's error code and message

No SDK: the query is one POST and a loop (azure-mgmt-costmanagement would add an import and handle none of
the 429 headers).  Cost and usage data settles 8-24 hours after the day: reconcile a day once it is two
days old (`bridge.reconcile.job`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from bridge.http import proxy_for, session

API_VERSION = "2025-03-01"
CLIENT_TYPE = "claude-azure-bridge"
RETRIES = 3
MAX_WAIT_SECONDS = 60.0
MAX_PAGES = 50
TIMEOUT_SECONDS = 60.0
RETRY_AFTER_HEADERS = (
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
    "x-ms-ratelimit-microsoft.consumption-retry-after",
    "retry-after",
)
USD_COLUMN = "CostUSD"
COST_COLUMNS = ("Cost", "PreTaxCost")

Token = Callable[[], Awaitable[str]]
"""The bearer token for Azure Resource Manager."""


class CostQueryError(Exception):
    """Cost Management could not answer (not allowed, throttled too long, malformed): the day is not reconciled."""


@dataclass(frozen=True, slots=True)
class ResourceGroup:
    subscription: str
    name: str

    @property
    def scope(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.name}"


def resource_group_of(resource_id: str) -> ResourceGroup:
    """/subscriptions/{s}/resourceGroups/{g}/providers/... -> (s, g); ValueError for anything else."""
    parts = resource_id.strip("/").split("/")
    if len(parts) < 4 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
        raise ValueError(f"{resource_id!r} is no resource id (/subscriptions/<id>/resourceGroups/<name>/providers/...)")
    return ResourceGroup(parts[1], parts[3])


def query_body(day: date, resource_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": f"{day.isoformat()}T00:00:00Z", "to": f"{day.isoformat()}T23:59:59Z"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {
                "totalCost": {"name": "Cost", "function": "Sum"},
                "totalCostUSD": {"name": USD_COLUMN, "function": "Sum"},
            },
            "grouping": [{"type": "Dimension", "name": "ResourceId"}],
            "filter": {"dimensions": {"name": "ResourceId", "operator": "In", "values": list(resource_ids)}},
        },
    }


@dataclass
class AzureCost:
    """What Cost Management billed: US dollars per resource id (lower case)."""

    by_resource: dict[str, float] = field(default_factory=dict)

    @property
    def usd(self) -> float:
        return sum(self.by_resource.values())

    def add(self, resource_id: str, usd: float) -> None:
        key = resource_id.lower()
        self.by_resource[key] = self.by_resource.get(key, 0.0) + usd


def read_page(properties: dict[str, Any], into: AzureCost) -> None:
    """Add one answer's rows to `into`, reading its columns by name."""
    rows = properties.get("rows") or []
    if not rows:
        return
    names = [str(column.get("name", "")) for column in properties.get("columns") or []]
    lowered = [name.lower() for name in names]
    if "resourceid" not in lowered:
        raise CostQueryError(f"Cost Management answered without a ResourceId column: {names}")
    resource = lowered.index("resourceid")
    if USD_COLUMN.lower() in lowered:
        cost, currency = lowered.index(USD_COLUMN.lower()), None
    else:
        found = [lowered.index(name.lower()) for name in COST_COLUMNS if name.lower() in lowered]
        if not found:
            raise CostQueryError(f"Cost Management answered without a cost column: {names}")
        cost, currency = found[0], lowered.index("currency") if "currency" in lowered else None
    for row in rows:
        try:
            if currency is not None and str(row[currency]).upper() != "USD":
                raise CostQueryError(
                    f"Cost Management answered in {row[currency]} without a {USD_COLUMN} column: the bridge's costs "
                    "are US dollars"
                )
            usd = float(row[cost])
            resource_id = str(row[resource])
        except (IndexError, KeyError, TypeError, ValueError):
            raise CostQueryError(f"Cost Management answered a row that does not fit its columns {names}: {row!r:.200}") from None
        if not math.isfinite(usd):
            raise CostQueryError(f"Cost Management answered a cost of {usd} for {resource_id}")
        into.add(resource_id, usd)


def retry_after(headers: Any) -> float:
    """The longest wait any of the 429's headers asks for, in seconds."""
    waits = [0.0]
    for name in RETRY_AFTER_HEADERS:
        try:
            wait = float(headers.get(name, ""))
        except ValueError:
            continue
        if math.isfinite(wait) and wait > 0:
            waits.append(wait)
    return min(max(waits), MAX_WAIT_SECONDS)


def _error(status: int, body: bytes) -> CostQueryError:
    try:
        error = orjson.loads(body).get("error") or {}
        said = f"{error.get('code', status)}: {str(error.get('message', ''))[:300]}"
    except (orjson.JSONDecodeError, AttributeError):
        said = body[:300].decode("utf-8", "replace")
    hint = " (the bridge's identity needs Cost Management Reader on the resources' resource group)" if status == 403 else ""
    return CostQueryError(f"Cost Management answered {status}: {said}{hint}")


class CostManagement:
    """The Query API at `management_url`, signed in with `token`."""

    def __init__(self, management_url: str, token: Token) -> None:
        self._url = management_url.rstrip("/")
        self._token = token

    async def cost(self, day: date, resource_ids: Sequence[str]) -> AzureCost:
        """What Azure billed for `resource_ids` on `day`: one query (and its pages) per resource group."""
        groups: dict[ResourceGroup, list[str]] = {}
        for resource_id in resource_ids:
            groups.setdefault(resource_group_of(resource_id), []).append(resource_id)
        found = AzureCost({resource_id.lower(): 0.0 for resource_id in resource_ids})
        for group, ids in groups.items():
            url: str | None = f"{self._url}{group.scope}/providers/Microsoft.CostManagement/query?api-version={API_VERSION}"
            body = orjson.dumps(query_body(day, ids))
            for _ in range(MAX_PAGES):
                if url is None:
                    break
                properties = await self._post(url, body)
                read_page(properties, found)
                url = self._next(properties.get("nextLink"))
        return found

    def _next(self, link: object) -> str | None:
        """The next page's URL: only on the Resource Manager the query went to (the token goes with it)."""
        if not link:
            return None
        if not isinstance(link, str) or urlsplit(link)[:2] != urlsplit(self._url)[:2]:
            raise CostQueryError(f"Cost Management's nextLink leaves {self._url}: not followed (the token would go along)")
        return link

    async def _post(self, url: str, body: bytes) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {await self._token()}",
            "Content-Type": "application/json",
            "ClientType": CLIENT_TYPE,
        }
        for attempt in range(RETRIES + 1):
            try:
                async with session().post(
                    url, data=body, headers=headers, proxy=proxy_for(url), timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
                ) as response:
                    answer = await response.read()
                    if response.status == 204:
                        return {}
                    if response.status == 200:
                        return dict(orjson.loads(answer).get("properties") or {})
                    if response.status != 429 or attempt == RETRIES:
                        raise _error(response.status, answer)
                    wait = retry_after(response.headers)
            except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
                raise CostQueryError(f"Cost Management could not be reached: {type(exc).__name__}: {exc}") from None
            await asyncio.sleep(wait)
        raise CostQueryError("Cost Management kept answering 429")
