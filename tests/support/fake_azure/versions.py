"""API versions: which the dated paths accept, and what each enables.

request                                              answer
---------------------------------------------------  ------------------------------------------------------------
dated path without `api-version`                     404 `Resource not found`
`api-version` not in `SUPPORTED`                     400 `{"code": "BadRequest", "message": "API version not supported"}`
`/openai/responses` before 2025-03-01-preview        400 `Azure OpenAI Responses API is enabled only for ...`
chat argument newer than the version (`INTRODUCED`)  400 `Unrecognized request argument supplied: <name>`
v1 paths (`/openai/v1/...`)                          no `api-version` needed (`preview` / `latest` accepted)
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import API_VERSION_NOT_SUPPORTED, RESOURCE_NOT_FOUND, RESPONSES_API_VERSION, Api, AzureError

SUPPORTED: frozenset[str] = frozenset(
    {
        "2022-12-01",
        "2023-03-15-preview",
        "2023-05-15",
        "2023-06-01-preview",
        "2023-07-01-preview",
        "2023-08-01-preview",
        "2023-09-01-preview",
        "2023-10-01-preview",
        "2023-12-01-preview",
        "2024-02-01",
        "2024-02-15-preview",
        "2024-03-01-preview",
        "2024-04-01-preview",
        "2024-05-01-preview",
        "2024-06-01",
        "2024-07-01-preview",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-10-21",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
"""The dated data-plane versions (GA and preview) Azure OpenAI published before the v1 API."""
RESPONSES_SINCE = "2025-03-01-preview"
INTRODUCED: Mapping[str, str] = {
    "functions": "2023-07-01-preview",
    "function_call": "2023-07-01-preview",
    "max_completion_tokens": "2024-09-01-preview",
}
"""chat/completions arguments an older API version does not recognise, with the version that introduced them."""


def older(version: str, than: str) -> bool:
    """Whether dated version `version` predates `than` (a preview comes before the GA of its day)."""
    return (version[:10], not version.endswith("-preview")) < (than[:10], not than.endswith("-preview"))


def version_error(api: Api, query: Mapping[str, str]) -> AzureError | None:
    """The front door's answer to a dated path's `api-version`, or None when it serves `api`."""
    version = query.get("api-version")
    if version is None:
        return RESOURCE_NOT_FOUND
    if version not in SUPPORTED:
        return API_VERSION_NOT_SUPPORTED
    if api == "responses" and older(version, RESPONSES_SINCE):
        return RESPONSES_API_VERSION
    return None


def unknown_to(version: str | None, names: list[str]) -> list[str]:
    """Those of `names` that dated `version` does not recognise yet (none on the v1 API, `version` None)."""
    if version is None:
        return []
    return [name for name in names if name in INTRODUCED and older(version, INTRODUCED[name])]
