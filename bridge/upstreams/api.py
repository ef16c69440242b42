"""What an upstream API (chat/completions, Responses) supplies to the exchange; the exchange does the rest.

piece          chat/completions (`chat.api.CHAT`)       Responses (`responses.api.RESPONSES`)
-------------  ---------------------------------------  ----------------------------------------
operation      chat/completions                         responses
build_body     chat.request.build_body                  responses.request.build_body
translator     chat.stream.ChatStreamTranslator         responses.stream.ResponsesStreamTranslator
events_of      a whole chat.completion → events         a whole response object → events
recover        its own 400s, then the shared step       its own 400s, then the shared step
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.model import Api, Body, Event, Request
from bridge.upstreams.recovery import FailedAttempt, Recovery
from bridge.upstreams.stream import Translator


@dataclass(frozen=True, slots=True)
class UpstreamApi:
    name: Api
    operation: str
    build_body: Callable[[Request, str, bool], Body]
    """(request, deployment, stream) → the body to send."""
    translator: Callable[[], Translator]
    events_of: Callable[[Any], list[Event]]
    """The events of a whole (non-streamed) answer."""
    recover: Callable[[FailedAttempt], Recovery]
