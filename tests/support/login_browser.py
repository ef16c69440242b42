"""A person's browser on the bridge's verification page, as Claude Code's `/login` opens it (`BROWSER`).

`approve(url)` opens `verification_uri_complete`, reads the confirm form, presses Continue (a same-origin
POST, as a browser sends it: `Origin` and `Sec-Fetch-Site: same-origin`), and follows the redirects through
the Entra ID stand-in back to the bridge's callback, cookies kept.  Run as a script
(`python -m tests.support.login_browser URL`) it is the `BROWSER` Claude Code starts; it writes what it saw
to the file named by LOGIN_BROWSER_LOG, if set.
"""

from __future__ import annotations

import os
import re
import sys
from html import unescape
from urllib.parse import urlsplit

import httpx

HIDDEN_CODE = re.compile(r'name="user_code" value="([^"]*)"')
TIMEOUT_SECONDS = 30.0


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def approve(url: str, *, client: httpx.Client | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """Confirm the code on the page at `url` and sign in: the last answer (the callback's page)."""
    own = client or httpx.Client(follow_redirects=True, timeout=TIMEOUT_SECONDS, trust_env=False)
    try:
        page = own.get(url)
        page.raise_for_status()
        found = HIDDEN_CODE.search(page.text)
        assert found is not None, f"no code on the verification page:\n{page.text[:2000]}"
        origin = origin_of(url)
        same_origin = {"Origin": origin, "Sec-Fetch-Site": "same-origin", **(headers or {})}
        return own.post(f"{origin}/device", data={"user_code": unescape(found.group(1))}, headers=same_origin)
    finally:
        if client is None:
            own.close()


def main() -> None:
    answer = approve(sys.argv[1])
    log = os.environ.get("LOGIN_BROWSER_LOG")
    if log:
        with open(log, "a") as out:
            out.write(f"{sys.argv[1]} -> {answer.status_code} {answer.url}\n{answer.text}\n")


if __name__ == "__main__":
    main()
