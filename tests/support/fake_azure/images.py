"""Image inputs: what the service does with an image URL before the model sees it (both APIs).

    image URL                                    answer
    -------------------------------------------  ---------------------------------------------------------
    https:// or http://, host ending `.invalid`  400 `Timeout while downloading <url>.` (invalid_image_url)
    other https:// or http:// URL                accepted (the fake downloads nothing)
    no `data:` prefix                            400 `Invalid '<where>'. Expected a base64-encoded data URL
                                                 ... but got a value without the 'data:' prefix.`
    data: URL, MIME type not png/jpeg/gif/webp   400 same, `but got unsupported MIME type '<type>'.`
    data: URL with no bytes / not base64         400 same, `but got empty base64-encoded bytes.` / `invalid`
    more than 20 MB                              400 `Invalid image. Image size exceeds the limit.` (invalid_image)
    bytes that are no png/jpeg/gif/webp image    400 `You uploaded an unsupported image. ...` (invalid_image_format)

`.invalid` is the reserved top-level domain (RFC 2606): a test names an
unreachable image with it.  chat/completions words the first group
`Invalid image URL: '<where>'. Expected ...`.
"""

from __future__ import annotations

import base64
import re
from typing import Literal
from urllib.parse import urlsplit

from .errors import AzureError, invalid_request

Wording = Literal["chat", "responses"]
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MIME_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp")
EXAMPLE = "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='"
UNSUPPORTED_IMAGE = (
    "You uploaded an unsupported image. Please make sure your image is below 20 MB in size and is of one the following "
    "formats: ['png', 'jpeg', 'gif', 'webp']."
)
_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<base64>;base64)?,(?P<payload>.*)$", re.DOTALL)
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def image_url_error(url: object, where: str, wording: Wording) -> AzureError | None:
    """The service's answer to image URL `url` at `where`, or None when it accepts it."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        host = urlsplit(url).hostname or ""
        if host.endswith(".invalid"):
            return invalid_request(f"Timeout while downloading {url}.", where, "invalid_image_url")
        return None
    match = _DATA_URL.match(url) if isinstance(url, str) else None
    if match is None:
        return _not_a_data_url(where, wording, "a value without the 'data:' prefix")
    mime = match["mime"].lower()
    if mime not in MIME_TYPES:
        return _not_a_data_url(where, wording, f"unsupported MIME type '{match['mime']}'")
    payload = re.sub(r"\s", "", match["payload"])
    if not payload:
        return _not_a_data_url(where, wording, "empty base64-encoded bytes")
    if not _BASE64.match(payload) or len(payload) % 4 == 1:
        return _not_a_data_url(where, wording, "invalid base64-encoded bytes")
    if len(payload) * 3 // 4 > MAX_IMAGE_BYTES:
        return invalid_request("Invalid image. Image size exceeds the limit.", where, "invalid_image")
    if not _is_image(base64.b64decode(payload[:24].rstrip("=") + "==")[:12]):
        return invalid_request(UNSUPPORTED_IMAGE, None, "invalid_image_format")
    return None


def _is_image(head: bytes) -> bool:
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _not_a_data_url(where: str, wording: Wording, got: str) -> AzureError:
    expected = f"Expected a base64-encoded data URL with an image MIME type (e.g. {EXAMPLE}), but got {got}."
    lead = f"Invalid image URL: '{where}'." if wording == "chat" else f"Invalid '{where}'."
    return invalid_request(f"{lead} {expected}", where, "invalid_value")
