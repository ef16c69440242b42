"""Learning from Azure's 400s which parameters a deployment refuses, and applying what was learned."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.upstreams.adapt import Adaptation, learn
from bridge.upstreams.failures import ErrorReport


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model.",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            },
            None,
        ),
        (
            {
                "message": "Unsupported value: 'temperature' does not support 0.5 with this model.",
                "param": "temperature",
                "code": "unsupported_value",
            },
            Adaptation(dropped=frozenset({"temperature"})),
        ),
        (
            {"message": "Unrecognized request argument supplied: max_completion_tokens", "param": None, "code": None},
            Adaptation(token_key="max_tokens"),
        ),
        (
            {"message": "Unrecognized request argument supplied: top_p", "param": None, "code": None},
            Adaptation(dropped=frozenset({"top_p"})),
        ),
        (
            {
                "message": "max_tokens is too large: 64000. This model supports at most 16384 completion tokens, whereas you provided 64000.",
                "param": "max_tokens",
                "code": "invalid_value",
            },
            Adaptation(token_cap=16384),
        ),
        ({"message": "Invalid 'messages[1].content'", "param": "messages", "code": "invalid_value"}, None),
    ],
)
def test_adaptation_learns_from_azure_400s(error: dict[str, Any], expected: Adaptation | None) -> None:
    sent = {"max_completion_tokens": 64000, "temperature": 0.5, "top_p": 0.9}
    lesson = learn(Adaptation(), ErrorReport.of(400, error), sent)
    assert (lesson.adaptation if lesson is not None else None) == expected


def test_adaptation_applies_every_fix() -> None:
    adaptation = Adaptation(dropped=frozenset({"temperature"}), token_key="max_tokens", token_cap=100)
    assert adaptation.apply({"model": "m", "temperature": 1, "max_completion_tokens": 500}) == {"model": "m", "max_tokens": 100}
