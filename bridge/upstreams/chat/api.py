"""The chat/completions upstream: its body, its translators and its recovery step.

Its own answers, before the shared step (`recovery.shared_step`):

    Azure's answer                                         decision
    -----------------------------------------------------  -----------------------------------
    400/404 OperationNotSupported (codex models)           SwitchApi responses
    400 naming /v1/responses or the Responses API          SwitchApi responses
      (gpt-5.4+ refusing reasoning effort with tools)
    a strict structured-output schema Azure refuses        Resend with the schema not strict
      (invalid_json_schema, param response_format)
"""

from __future__ import annotations

import re

from bridge.upstreams.api import UpstreamApi
from bridge.upstreams.chat.request import build_body, loose_format
from bridge.upstreams.chat.stream import ChatStreamTranslator, events_of
from bridge.upstreams.recovery import FailedAttempt, Recovery, Resend, SwitchApi, shared_step

_USE_RESPONSES = re.compile(r"/v1/responses|responses api", re.IGNORECASE)


def recover(attempt: FailedAttempt) -> Recovery:
    report = attempt.report
    if report.status in (400, 404) and report.code == "OperationNotSupported":
        return SwitchApi("responses", report.message)
    if report.status == 400 and _USE_RESPONSES.search(report.message):
        return SwitchApi("responses", report.message)
    loose = loose_format(attempt.sent)
    if loose is not None and report.refuses_schema("response_format"):
        return Resend(loose, "response_format strict True → False (Azure refused the schema as strict)")
    return shared_step(attempt)


CHAT = UpstreamApi("chat", "chat/completions", build_body, ChatStreamTranslator, events_of, recover)
