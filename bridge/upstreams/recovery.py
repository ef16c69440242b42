"""What the exchange does with an upstream error: the decisions, and the step both upstream APIs share.

Each upstream API has one recovery step (`chat.api.recover`,
`responses.api.recover`) that sees Azure's raw error (`ErrorReport`), for a
refused request or for a failure inside a 200 stream before its first event,
and decides:

    decision         what the exchange does                                       remembered
    ---------------  -----------------------------------------------------------  ---------------------
    Adapt            send again with a parameter adapted (`adapt.learn`)          per deployment and API
    SwitchApi        build the body for the other API and send it there           per deployment
    Resend           send this request's body again without what Azure cannot     no (this request)
                     use (reasoning made elsewhere, a strict schema it refuses)
    RetryElsewhere   rest the endpoint (a rate limit or a server error reported   the endpoint rests
                     inside a stream) and send to the next one in the pool
    SignInAgain      forget the Entra ID token Azure refused, get a new one and   no (once a request)
                     send again
    Fail             the client gets the error (`failures.client_error`)

The shared step, after an API's own cases:

    upstream error                                        decision
    ----------------------------------------------------  -------------------------------------
    in a stream, before any event: rate_limit_exceeded,   RetryElsewhere (Azure's wait when it
      server_error, overloaded, the stream ended early      names one, else the pool's own rest)
    401 to an Entra ID token (not PermissionDenied)       SignInAgain
    400 that `adapt.learn` knows how to fix               Adapt
    anything else                                         Fail(client_error(...))
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.errors import BridgeError
from bridge.model import Api, Body, Target
from bridge.upstreams.adapt import Adaptation, learn
from bridge.upstreams.failures import TRUNCATED, ErrorReport, client_error

TRANSIENT_IN_STREAM = frozenset({"rate_limit_exceeded", "server_error", "server_is_overloaded", TRUNCATED})


@dataclass(frozen=True, slots=True)
class Adapt:
    adaptation: Adaptation
    change: str


@dataclass(frozen=True, slots=True)
class SwitchApi:
    api: Api
    reason: str


@dataclass(frozen=True, slots=True)
class Resend:
    body: Body
    change: str


@dataclass(frozen=True, slots=True)
class RetryElsewhere:
    rest_seconds: float | None
    """The wait Azure named; None: the pool rests the endpoint for its own short while (`Pool.rest`)."""
    reason: str


@dataclass(frozen=True, slots=True)
class SignInAgain:
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    error: BridgeError


Recovery = Adapt | SwitchApi | Resend | RetryElsewhere | SignInAgain | Fail


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """Everything a recovery step may look at: the error (`report`), the body that caused it, what is known."""

    report: ErrorReport
    sent: Body
    adaptation: Adaptation
    target: Target
    keyed: bool
    """Whether the endpoint was called with an API key (else Microsoft Entra ID)."""


def shared_step(attempt: FailedAttempt) -> Recovery:
    report = attempt.report
    if report.in_stream and (report.code in TRANSIENT_IN_STREAM or report.type == "server_error"):
        return RetryElsewhere(report.retry_after, report.message)
    if report.status == 401 and not attempt.keyed and report.code != "PermissionDenied":
        return SignInAgain(report.message)
    if report.status == 400:
        lesson = learn(attempt.adaptation, report, attempt.sent)
        if lesson is not None:
            return Adapt(lesson.adaptation, lesson.change)
    return Fail(client_error(report, attempt.target, attempt.keyed))
