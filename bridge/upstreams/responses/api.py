"""The Responses upstream: its body, its translators and its recovery step.

URL: `{endpoint}/openai/v1/responses` on the v1 API (deployment in `model`);
for a dated API version Azure serves `{endpoint}/openai/responses?api-version=V`
(2025-03-01-preview on), which `Endpoint.url` forms for this operation.

Its own answers, before the shared step (`recovery.shared_step`):

    Azure's answer                                         decision
    -----------------------------------------------------  ------------------------------------------
    400/404 OperationNotSupported (a model not offered     SwitchApi chat
      through Responses); "Responses API is enabled only
      for api-version ..." / "API version not supported"
    the returned reasoning cannot be used (encrypted by    Resend without reasoning items (the
      another resource or model, not found, mangled, or     conversation moved between resources
      without its following item)                           or deployments)
    a strict structured-output schema Azure refuses        Resend with the schema not strict
    the web_search tool is refused                         Fail: the deployment has no web search
                                                           (never a hang)
    500 to a request with the web_search tool (after the   Fail (no retry): Azure's web search fails
      pool's retries)                                      there; another deployment, or no tool
"""

from __future__ import annotations

import re

from bridge.errors import BridgeError, misconfigured
from bridge.model import Target
from bridge.upstreams.api import UpstreamApi
from bridge.upstreams.recovery import Fail, FailedAttempt, Recovery, Resend, SwitchApi, shared_step
from bridge.upstreams.responses.request import build_body, has_reasoning, has_web_search, loose_format, without_reasoning
from bridge.upstreams.responses.stream import ResponsesStreamTranslator, events_of

_REASONING_REFUSED = re.compile(r"encrypted content|type 'reasoning'|\brs_\w+", re.IGNORECASE)
_NO_RESPONSES = re.compile(r"Responses API is enabled only|API version not supported", re.IGNORECASE)


def no_web_search(target: Target, said: str) -> BridgeError:
    return BridgeError(
        "invalid_request_error",
        f"Deployment '{target.deployment}' (from {target.source}) does not offer web search through the Responses API, "
        f"so the web_search tool cannot run there. Use a deployment and region with web search, or leave the tool out. "
        f"Azure said: {said}",
    )


def failing_web_search(target: Target, said: str) -> BridgeError:
    return misconfigured(
        "Azure OpenAI kept failing (HTTP 500) on a request that uses the web_search tool on deployment "
        f"'{target.deployment}' (from {target.source}): Azure's web search fails this way on some models and regions. "
        f"Use a deployment whose web search works, or leave the tool out. Azure said: {said}"
    )


def recover(attempt: FailedAttempt) -> Recovery:
    report, sent = attempt.report, attempt.sent
    if report.status in (400, 404) and (report.code == "OperationNotSupported" or _NO_RESPONSES.search(report.message)):
        return SwitchApi("chat", report.message)
    if report.status == 400 or (report.in_stream and report.type == "invalid_request_error"):
        reasoning_refused = report.code == "invalid_encrypted_content" or (
            report.param != "include" and _REASONING_REFUSED.search(report.message) is not None
        )
        if reasoning_refused and has_reasoning(sent):
            return Resend(without_reasoning(sent), "reasoning items made elsewhere → (not sent)")
        loose = loose_format(sent)
        if loose is not None and report.refuses_schema("text.format"):
            return Resend(loose, "text.format.strict True → False (Azure refused the schema as strict)")
        if has_web_search(sent) and "web_search" in report.message:
            return Fail(no_web_search(attempt.target, report.message))
    if report.status == 500 and has_web_search(sent):
        return Fail(failing_web_search(attempt.target, report.message))
    return shared_step(attempt)


RESPONSES = UpstreamApi("responses", "responses", build_body, ResponsesStreamTranslator, events_of, recover)
