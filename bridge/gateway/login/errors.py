"""What a `/login` step answers instead of its result: an OAuth error (the token, device and revocation
endpoints' JSON) or a page error (what the verification page or the callback shows the person).

Apart from `service`, which raises most of them: the HTTP side (`bridge.fronts.login`) raises and catches them
without loading the service's PyJWT and Azure Tables, which only a bridge that offers /login needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OAuthError(Exception):
    """An answer of the token, device and revocation endpoints: RFC 6749 §5.2 `error` and a description."""

    error: str
    description: str
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.error}: {self.description}")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class PageError(Exception):
    """What the verification page or the callback tells the person instead (never a redirect)."""

    message: str
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)
