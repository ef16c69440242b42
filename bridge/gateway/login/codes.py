"""The secrets of a sign-in, made with `secrets` and checked in constant time.

    value           form                                        strength
    user code       XXXX-XXXX over BCDFGHJKLMNPQRSTVWXZ         20^8 ≈ 2^34.6, one per live grant; guessing
                    (RFC 8628 §6.1: no vowels, no look-alikes)  meets the per-IP limit and 10 minutes
    device code     <user code>.<43 chars>                      256 random bits after the dot
    refresh token   cabr_<session id>.<43 chars>                256 random bits after the dot
    state, nonce    43 chars                                    256 random bits each
    PKCE verifier   86 chars, challenge S256 (RFC 7636)         512 random bits

Only SHA-256 digests of the secret parts are stored (`digest`).  The user code (shown to the person) and the
session id (in every access token) are not secret: they only find the row, whose digest must then match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_CHARS = 8
SECRET_BYTES = 32
REFRESH_PREFIX = "cabr_"
_SEPARATOR = "."
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def new_secret() -> str:
    """256 random bits, base64url (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: object) -> bool:
    """Whether `secret` is the one whose digest was stored (constant time)."""
    return isinstance(stored_digest, str) and hmac.compare_digest(digest(secret), stored_digest)


def new_user_code() -> str:
    """8 characters of the base-20 alphabet, stored without the dash (`shown` adds it)."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_CHARS))


def shown(user_code: str) -> str:
    return f"{user_code[:4]}-{user_code[4:]}"


def user_code_of(typed: str) -> str | None:
    """The user code a person typed or a link carried (any case, dashes and spaces ignored); None when it cannot
    be one."""
    code = "".join(ch for ch in typed.upper() if ch not in "- ")
    if len(code) != USER_CODE_CHARS or any(ch not in USER_CODE_ALPHABET for ch in code):
        return None
    return code


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def device_code(user_code: str, secret: str) -> str:
    return f"{user_code}{_SEPARATOR}{secret}"


def parse_device_code(presented: str) -> tuple[str, str] | None:
    """(user code, secret) of a device code this bridge made; None for anything else."""
    user_code, _, secret = presented.partition(_SEPARATOR)
    if user_code_of(user_code) != user_code or not _SECRET.fullmatch(secret):
        return None
    return user_code, secret


def refresh_token(session_id: str, secret: str) -> str:
    return f"{REFRESH_PREFIX}{session_id}{_SEPARATOR}{secret}"


def parse_refresh_token(presented: str) -> tuple[str, str] | None:
    """(session id, secret) of a refresh token this bridge made; None for anything else."""
    if not presented.startswith(REFRESH_PREFIX):
        return None
    session_id, _, secret = presented[len(REFRESH_PREFIX) :].partition(_SEPARATOR)
    if not _SESSION_ID.fullmatch(session_id) or not _SECRET.fullmatch(secret):
        return None
    return session_id, secret


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge) for PKCE with S256 (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
