"""Which deployment serves a request: families, thinking, long prompts, pass-through, overrides."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bridge.config.load import load_settings
from bridge.model import Request, Target
from bridge.serving.tiers import resolve


def counted(tokens: int) -> Callable[[Target], Awaitable[int]]:
    async def count(_: Target) -> int:
        return tokens

    return count


def _route(model: str, settings: object, effort: str | None = None, tokens: int = 10) -> tuple[str, str]:
    route, _ = asyncio.run(resolve(Request(model, [], reasoning_effort=effort), settings, counted(tokens)))  # type: ignore[arg-type]
    return route.deployment, route.setting


def test_routing_by_family_and_pass_through() -> None:
    settings = load_settings({"BIG_MODEL": "big", "SMALL_MODEL": "small"})
    assert _route("claude-opus-4-8", settings) == ("big", "BIG_MODEL")
    assert _route("claude-sonnet-4-6", settings) == ("big", "BIG_MODEL")
    assert _route("claude-3-5-haiku-latest", settings) == ("small", "SMALL_MODEL")
    assert _route("small", settings) == ("small", "SMALL_MODEL"), "a tier's deployment name takes that tier"
    assert _route("my-deployment", settings) == ("my-deployment", "model")


def test_think_long_context_and_overrides() -> None:
    settings = load_settings(
        {
            "BIG_MODEL": "big",
            "SMALL_MODEL": "small",
            "THINK_MODEL": "thinker",
            "LONG_CONTEXT_MODEL": "long",
            "LONG_CONTEXT_THRESHOLD": "1000",
            "THINK_MODEL_TEMPERATURE": "0.3",
            "THINK_MODEL_MAX_TOKENS": "500",
            "THINK_MODEL_API": "responses",
        }
    )
    assert _route("claude-opus-4-8", settings, effort="high") == ("thinker", "THINK_MODEL")
    assert _route("claude-opus-4-8", settings, effort="minimal") == ("big", "BIG_MODEL")
    assert _route("claude-haiku-4-5", settings, effort="high") == ("small", "SMALL_MODEL")
    assert _route("claude-opus-4-8", settings, effort="high", tokens=5000) == ("long", "LONG_CONTEXT_MODEL")
    route, request = asyncio.run(
        resolve(Request("claude-opus-4-8", [], max_tokens=64000, temperature=1.0, reasoning_effort="high"), settings, counted(1))
    )
    assert (route.api, request.temperature, request.max_tokens) == ("responses", 0.3, 500)
    assert load_settings({"BIG_MODEL": "b", "BIG_MODEL_API": "grpc"}).problems
