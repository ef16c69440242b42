"""The chat/completions upstream: its body, its translators and its recovery step.

Its own answers, before the shared step (`recovery.shared_step`):

    Azure's answer                                         decision
    -----------------------------------------------------  -----------------------------------
    400/404 OperationNotSupported (codex models)           SwitchApi responses
    400 naming /v1/responses or the Responses API          SwitchApi responses
      (gpt-5.4+ refusing reasoning effort with tools)
"""

from __future__ import annotations

import re

from bridge.upstreams.api import UpstreamApi
from bridge.upstreams.chat.request import build_body
from bridge.upstreams.chat.stream import ChatStreamTranslator, events_of
from bridge.upstreams.recovery import Recovery, Refusal, SwitchApi, shared_step

_USE_RESPONSES = re.compile(r"/v1/responses|responses api", re.IGNORECASE)


def recover(refusal: Refusal) -> Recovery:
    error = refusal.error
    if error.status in (400, 404) and error.code == "OperationNotSupported":
        return SwitchApi("responses", error.message)
    if error.status == 400 and _USE_RESPONSES.search(error.message):
        return SwitchApi("responses", error.message)
    return shared_step(refusal)


CHAT = UpstreamApi("chat", "chat/completions", build_body, ChatStreamTranslator, events_of, recover)
