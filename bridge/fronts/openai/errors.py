"""`BridgeError` → OpenAI's error object `{"error": {message, type, param, code}}` and status.

    BridgeError.kind        status  type                   code
    ----------------------  ------  ---------------------  ---------------------------------
    invalid_request_error   400     invalid_request_error  from the request check, else null
    authentication_error    401     authentication_error   invalid_api_key
    permission_error        403     permission_error       null
    not_found_error         404     not_found_error        null
    request_too_large       413     invalid_request_error  request_too_large
    rate_limit_error        429     rate_limit_error       rate_limit_exceeded
    billing_error           429     insufficient_quota     insufficient_quota (OpenAI's "quota exceeded")
    api_error               500     server_error           null
    overloaded_error        503     server_error           overloaded (OpenAI clients know 503, not 529)
    timeout_error           504     server_error           timeout

`param` names the request field at fault (`messages[2].content`) when the
request check found one.  The error's headers (`retry-after`, `x-should-retry`)
go out unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.errors import BridgeError, ErrorKind

_SHAPE: dict[ErrorKind, tuple[int, str, str | None]] = {
    "invalid_request_error": (400, "invalid_request_error", None),
    "authentication_error": (401, "authentication_error", "invalid_api_key"),
    "permission_error": (403, "permission_error", None),
    "not_found_error": (404, "not_found_error", None),
    "request_too_large": (413, "invalid_request_error", "request_too_large"),
    "rate_limit_error": (429, "rate_limit_error", "rate_limit_exceeded"),
    "billing_error": (429, "insufficient_quota", "insufficient_quota"),
    "api_error": (500, "server_error", None),
    "overloaded_error": (503, "server_error", "overloaded"),
    "timeout_error": (504, "server_error", "timeout"),
}


@dataclass
class ParamError(BridgeError):
    """An invalid request that names the field at fault and OpenAI's code for the fault."""

    param: str | None = None
    code: str | None = None


def invalid_param(param: str, message: str, code: str = "invalid_value") -> ParamError:
    return ParamError("invalid_request_error", message, param=param, code=code)


def status_of(error: BridgeError) -> int:
    return error.http_status or _SHAPE[error.kind][0]


def error_body(error: BridgeError) -> dict[str, Any]:
    _, kind, code = _SHAPE[error.kind]
    param = error.param if isinstance(error, ParamError) else None
    if isinstance(error, ParamError) and error.code is not None:
        code = error.code
    return {"error": {"message": error.message, "type": kind, "param": param, "code": code}}
