"""A stand-in for Azure Cost Management's Query API (Query_Usage), answering in its documented shape.

    POST /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.CostManagement/query?api-version=2025-03-01
    200 {"id": ".../providers/Microsoft.CostManagement/Query/<guid>", "name": "<guid>",
         "type": "microsoft.costmanagement/Query",
         "properties": {"nextLink": <url> | null, "columns": [{"name", "type"}], "rows": [[...]]}}
    204 (no content)

The shape is the REST specification's examples (azure-rest-api-specs, Microsoft.CostManagement stable/2025-03-01,
ResourceGroupQueryGrouping.json: columns by name and type, rows of values in column order, UsageDate a yyyymmdd
number, nextLink); 429 carries `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after`; errors are ARM's
`{"error": {"code", "message"}}`.  It checks what the real one refuses: a missing or wrong bearer token (401),
another api-version (400), a body that is no ActualCost/Custom query of whole days, and a scope outside the
resource groups the identity may read (403 AuthorizationFailed, as without Cost Management Reader).

Not covered: query semantics beyond filtering by ResourceId (other dimensions, granularities, forecasts), real
QPU accounting, rerated rows, amortized cost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

API_VERSION = "2025-03-01"
TOKEN = "fake-arm-token"
COLUMNS = [
    {"name": "Cost", "type": "Number"},
    {"name": "CostUSD", "type": "Number"},
    {"name": "ResourceId", "type": "String"},
    {"name": "UsageDate", "type": "Number"},
    {"name": "Currency", "type": "String"},
]


@dataclass
class Billed:
    """One meter's cost of a resource on a day (Cost Management sums them per grouping)."""

    resource_id: str
    day: date
    usd: float
    currency: str = "USD"
    rate: float = 1.0
    """Billing currency per US dollar (Cost is in the billing currency, CostUSD in dollars)."""


@dataclass
class FakeCostManagement:
    billed: list[Billed] = field(default_factory=list)
    readable: set[str] = field(default_factory=set)
    """Resource group scopes (lower case) the identity holds Cost Management Reader on."""
    page_size: int = 100
    throttle: int = 0
    """How many queries to answer 429 before answering."""
    foreign_next_link: str = ""
    """A nextLink elsewhere (a compromised or spoofed answer), sent instead of the real one."""
    usd_column: bool = True
    """False: the legacy shape (PreTaxCost and Currency, no CostUSD)."""
    queries: list[dict[str, Any]] = field(default_factory=list)
    hits: int = 0
    """Every request received, pages and refused ones included."""
    pages: dict[str, list[list[Any]]] = field(default_factory=dict)

    def allow(self, *resource_ids: str) -> None:
        for resource_id in resource_ids:
            parts = resource_id.strip("/").split("/")
            self.readable.add(f"/subscriptions/{parts[1]}/resourcegroups/{parts[3]}".lower())

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(
            "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.CostManagement/query", self.query
        )
        app.router.add_post("/pages/{page}", self.page)
        return app

    async def query(self, request: web.Request) -> web.Response:
        self.hits += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or invalid.")
        if request.query.get("api-version") != API_VERSION:
            return error(400, "InvalidApiVersionParameter", f"The api-version '{request.query.get('api-version')}' is invalid.")
        scope = f"/subscriptions/{request.match_info['subscription']}/resourcegroups/{request.match_info['group']}"
        if scope.lower() not in self.readable:
            return error(
                403,
                "AuthorizationFailed",
                "The client does not have authorization to perform action "
                "'Microsoft.CostManagement/query/action' over scope '" + scope + "'.",
            )
        body = await request.json()
        self.queries.append({"scope": scope, "body": body, "client_type": request.headers.get("ClientType")})
        if self.throttle > 0:
            self.throttle -= 1
            return web.Response(
                status=429,
                headers={"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "0", "Retry-After": "0"},
                text=json.dumps({"error": {"code": "429", "message": "Too many requests. Please retry."}}),
                content_type="application/json",
            )
        problem = malformed(body)
        if problem:
            return error(400, "BadRequest", problem)
        day = date.fromisoformat(body["timePeriod"]["from"][:10])
        wanted = {value.lower() for value in body["dataset"]["filter"]["dimensions"]["values"]}
        rows = self.rows(day, wanted, scope.lower())
        if not rows:
            return web.Response(status=204)
        return self.answer(request, scope, rows)

    def rows(self, day: date, wanted: set[str], scope: str) -> list[list[Any]]:
        summed: dict[str, Billed] = {}
        for billed in self.billed:
            key = billed.resource_id.lower()
            if billed.day != day or key not in wanted or not key.startswith(scope + "/"):
                continue
            found = summed.setdefault(key, Billed(key, day, 0.0, billed.currency, billed.rate))
            found.usd += billed.usd
        usage_date = int(day.strftime("%Y%m%d"))
        if self.usd_column:
            return [[b.usd * b.rate, b.usd, b.resource_id, usage_date, b.currency] for b in summed.values()]
        return [[b.usd * b.rate, b.resource_id, usage_date, b.currency] for b in summed.values()]

    def answer(self, request: web.Request, scope: str, rows: Sequence[list[Any]]) -> web.Response:
        first, rest = list(rows[: self.page_size]), list(rows[self.page_size :])
        next_link = None
        if rest:
            page = uuid.uuid4().hex
            self.pages[page] = rest
            next_link = self.foreign_next_link or f"{request.url.origin()}/pages/{page}?api-version={API_VERSION}"
        name = str(uuid.uuid4())
        columns = COLUMNS if self.usd_column else [{"name": "PreTaxCost", "type": "Number"}, *COLUMNS[2:]]
        body = {
            "id": f"{scope}/providers/Microsoft.CostManagement/Query/{name}",
            "name": name,
            "type": "microsoft.costmanagement/Query",
            "properties": {"nextLink": next_link, "columns": columns, "rows": first},
        }
        return web.json_response(body)

    async def page(self, request: web.Request) -> web.Response:
        self.hits += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return error(401, "AuthenticationFailed", "Authentication failed.")
        rows = self.pages.pop(request.match_info["page"], None)
        if rows is None:
            return error(404, "NotFound", "The page does not exist.")
        return self.answer(request, "/pages", rows)


def malformed(body: Any) -> str:
    """What the real API would refuse in the bridge's query, if anything."""
    try:
        if body["type"] != "ActualCost" or body["timeframe"] != "Custom":
            return "type must be ActualCost and timeframe Custom"
        start, end = body["timePeriod"]["from"], body["timePeriod"]["to"]
        if not (start.endswith("T00:00:00Z") and end.endswith("T23:59:59Z") and start[:10] == end[:10]):
            return "timePeriod must be one whole UTC day"
        dimensions = body["dataset"]["filter"]["dimensions"]
        if dimensions["name"] != "ResourceId" or dimensions["operator"] != "In" or not dimensions["values"]:
            return "filter by ResourceId In [...]"
        if body["dataset"]["grouping"] != [{"type": "Dimension", "name": "ResourceId"}]:
            return "group by the ResourceId dimension"
    except (KeyError, TypeError):
        return "The query definition is invalid."
    return ""


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
