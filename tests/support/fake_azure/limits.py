"""Prompt size: the fake's token count and the deployment's context window.

The fake counts a request as a quarter of its JSON length (the same count its
usage reports), so a test can size a prompt against a small `context_window`.

    request over the limit                 answer
    -------------------------------------  -------------------------------------------------------------------
    chat, model with an input cap          400 `Input tokens exceed the configured limit of N tokens. Your
                                           messages resulted in M tokens. Please reduce the length of the messages.`
    chat, model with a context window      400 `This model's maximum context length is N tokens. However, your
                                           messages resulted in M tokens. Please reduce the length of the messages.`
    Responses, streamed                    200, then an `error` event `context_length_exceeded` (responses_streams)
    Responses, not streamed                400 with the same fields
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .deployment import Deployment
from .errors import AzureError, invalid_request

CONTEXT_WINDOW_MESSAGE = "Your input exceeds the context window of this model. Please adjust your input and try again."


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """The fake's token count for a request body."""
    return max(1, len(json.dumps(body)) // 4)


def exceeds_input(body: Mapping[str, Any], deployment: Deployment) -> bool:
    limit = deployment.input_limit
    return limit is not None and prompt_tokens(body) > limit


def chat_context_error(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    """chat/completions' 400 for messages over the model's limit, or None when they fit."""
    if not exceeds_input(body, deployment):
        return None
    used = prompt_tokens(body)
    if deployment.max_input_tokens is not None:
        message = (
            f"Input tokens exceed the configured limit of {deployment.max_input_tokens} tokens. "
            f"Your messages resulted in {used} tokens. Please reduce the length of the messages."
        )
    else:
        message = (
            f"This model's maximum context length is {deployment.context_window} tokens. However, your messages "
            f"resulted in {used} tokens. Please reduce the length of the messages."
        )
    return invalid_request(message, "messages", "context_length_exceeded")


def responses_context_error(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    """The Responses 400 (a request that is not streamed) for input over the model's limit."""
    if not exceeds_input(body, deployment):
        return None
    return invalid_request(CONTEXT_WINDOW_MESSAGE, "input", "context_length_exceeded")
