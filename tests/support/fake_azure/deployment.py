"""`Deployment`: one deployment on the fake resource and the model profile behind it.

Everything the real service decides by model is a field here, so a test can
configure a deployment that behaves like a given model; `like(model)` gives the
profiles of the models the catalog names (`../shared/azure-behaviours/README.md`,
"Models and limits" and the per-row notes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Summaries = Literal["supported", "unverified_organization", "unsupported"]
WebSearchOutcome = Literal["completed", "searching", "server_error"]
FilterMode = Literal["sync", "async"]


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment's name and model profile.

    `reasoning`: gpt-5 / o-series (no `max_tokens`, sampling only at 1, effort, reasoning items).
    `efforts`: the reasoning efforts the model accepts (gpt-5: minimal to high; gpt-5.1: none, low to high).
    `max_output_tokens`: the completion-token ceiling (16384 for gpt-4o, 128000 for gpt-5).
    `context_window` / `max_input_tokens`: the prompt limits (None: unlimited); a model with a
    separate input cap (gpt-5: 272k of 400k) words its chat refusal differently.
    `encrypted_content`: whether `include: ["reasoning.encrypted_content"]` is accepted (None: when `reasoning`).
    `summaries`: `reasoning.summary` is served, refused for an unverified organization, or unknown to the model.
    `parallel_tool_calls`: False for o-series on chat/completions, which refuse the parameter.
    `web_search`: whether the Responses `web_search` tool exists; `web_search_outcome` how it behaves:
    searches complete, leave items `searching` in the output (late 2025), or fail with a 500 (early 2025).
    `content_filter`: `async` streams content without per-chunk filter results, annotated at the end.
    `operations`: the APIs the model is offered through (codex: Responses only).
    `effort_with_tools_on_chat`: False refuses `reasoning_effort` (other than `none`) with function tools on chat.
    `prompt_cache_retention`: whether the model knows `prompt_cache_retention`.
    `model`: the versioned name replies report (defaults to the deployment name).
    """

    name: str
    reasoning: bool = False
    max_output_tokens: int = 16384
    supports_tools: bool = True
    supports_images: bool = True
    model: str | None = None
    efforts: tuple[str, ...] = ("minimal", "low", "medium", "high")
    web_search: bool = True
    operations: tuple[str, ...] = ("chat", "responses")
    effort_with_tools_on_chat: bool = True
    context_window: int | None = None
    max_input_tokens: int | None = None
    encrypted_content: bool | None = None
    summaries: Summaries = "supported"
    parallel_tool_calls: bool = True
    web_search_outcome: WebSearchOutcome = "completed"
    content_filter: FilterMode = "sync"
    prompt_cache_retention: bool = True

    @property
    def model_name(self) -> str:
        """The model name written into replies and error messages."""
        return self.model or self.name

    @property
    def system_fingerprint(self) -> str | None:
        """Reasoning models stream `null` fingerprints; older models an `fp_` string."""
        return None if self.reasoning else "fp_efad92c60b"

    @property
    def accepts_encrypted_content(self) -> bool:
        return self.reasoning if self.encrypted_content is None else self.encrypted_content

    @property
    def input_limit(self) -> int | None:
        """The most prompt tokens a request may carry."""
        return self.max_input_tokens or self.context_window


O_SERIES = ("low", "medium", "high")
GPT_5_EFFORTS = ("minimal", "low", "medium", "high")
GPT_51_EFFORTS = ("none", "low", "medium", "high")
GPT_54_EFFORTS = ("none", "low", "medium", "high", "xhigh")

MODELS: dict[str, Deployment] = {
    profile.name: profile
    for profile in (
        Deployment("gpt-4o", context_window=128_000, model="gpt-4o-2024-11-20"),
        Deployment("gpt-4.1", max_output_tokens=32_768, context_window=1_047_576, encrypted_content=True),
        Deployment("gpt-4.1-mini", max_output_tokens=32_768, context_window=1_047_576),
        Deployment("gpt-5-chat", context_window=128_000),
        Deployment(
            "o3-mini",
            reasoning=True,
            efforts=O_SERIES,
            max_output_tokens=100_000,
            context_window=200_000,
            supports_images=False,
            parallel_tool_calls=False,
        ),
        Deployment(
            "o4-mini",
            reasoning=True,
            efforts=O_SERIES,
            max_output_tokens=100_000,
            context_window=200_000,
            encrypted_content=False,
            parallel_tool_calls=False,
        ),
        Deployment("gpt-5", reasoning=True, max_output_tokens=128_000, context_window=400_000, max_input_tokens=272_000),
        Deployment("gpt-5-mini", reasoning=True, max_output_tokens=128_000, context_window=400_000, max_input_tokens=272_000),
        Deployment(
            "gpt-5.1",
            reasoning=True,
            efforts=GPT_51_EFFORTS,
            max_output_tokens=128_000,
            context_window=400_000,
            max_input_tokens=272_000,
        ),
        Deployment(
            "gpt-5.1-codex",
            reasoning=True,
            efforts=GPT_51_EFFORTS,
            max_output_tokens=128_000,
            context_window=400_000,
            max_input_tokens=272_000,
            operations=("responses",),
        ),
        Deployment(
            "gpt-5.4",
            reasoning=True,
            efforts=GPT_54_EFFORTS,
            max_output_tokens=128_000,
            context_window=1_050_000,
            max_input_tokens=922_000,
            effort_with_tools_on_chat=False,
        ),
    )
}
"""Model profiles by model name (limits from the catalog's models table and Azure's model pages)."""


def like(model: str, name: str | None = None) -> Deployment:
    """A deployment (named `name`, default the model's name) that behaves like `model`."""
    return replace(MODELS[model], name=name or model, model=MODELS[model].model or model)
