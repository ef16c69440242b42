"""The verification page's HTML: the confirm form, and what the person reads after Entra ID (no script at all).

The form never submits itself (RFC 8628 §5.4): the person presses Continue after comparing the code with
the one Claude Code shows.  Every value is HTML-escaped.  The headers forbid framing (a page inside
another site could trick the click), caching, sending the URL (which holds the code) as a Referer, and
any script; `form-action` lets the form go only to this bridge and, through the redirect, to Entra ID.
"""

from __future__ import annotations

from html import escape

from bridge.gateway.login.endpoints import DENY_PATH, VERIFICATION_PATH

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "code{font-size:1.6rem;letter-spacing:.15rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.6rem}"
    "input{font-size:1.4rem;letter-spacing:.1rem;width:12rem}"
)


def headers(entra_origin: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {entra_origin}; frame-ancestors 'none'; "
            "base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head><body>{body}</body></html>'
    )


def confirm(user_code: str | None) -> str:
    """The form: the code carried by Claude Code's link shown for comparison, or a field to type it."""
    if user_code is not None:
        code = escape(user_code)
        field = f'<p>Code: <code>{code}</code></p><input type="hidden" name="user_code" value="{code}">'
        deny = (
            f'<form method="post" action="{DENY_PATH}"><input type="hidden" name="user_code" value="{code}">'
            '<button type="submit">Deny</button></form>'
        )
    else:
        field = '<p><label>Code: <input name="user_code" autocomplete="off" autofocus></label></p>'
        deny = ""
    return _page(
        "Sign in to Claude Code",
        "<h1>Sign in to Claude Code</h1>"
        "<p>Claude Code on a computer asks to use this bridge as you. Continue only if you started that yourself "
        "(you ran <code>/login</code>) and the code below is the one it shows.</p>"
        f'<form method="post" action="{VERIFICATION_PATH}">{field}'
        '<button type="submit">Continue with Microsoft Entra ID</button></form>' + deny,
    )


def signed_in(name: str) -> str:
    return _page(
        "Signed in",
        f"<h1>You're signed in</h1><p>Signed in as <b>{escape(name)}</b>. Return to Claude Code: it goes on by itself.</p>",
    )


def denied() -> str:
    return _page("Sign-in denied", "<h1>Sign-in denied</h1><p>Claude Code was not signed in. You can close this page.</p>")


def refused(message: str) -> str:
    return _page("Sign-in failed", f"<h1>Sign-in failed</h1><p>{escape(message)}</p>")
