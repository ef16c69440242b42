"""Claude Code's `/login`: the bridge as an OAuth 2.0 device-flow server in front of Microsoft Entra ID.

    Claude Code                    the bridge (this package)                 the browser, Entra ID
    GET  discovery  ─────────────▶ metadata (`endpoints`)
    POST device_authorization ──▶ a device grant (`service.start`)
                                   GET  /device?user_code=…  ◀────────────  the person confirms the code
                                   POST /device  (same origin, per-IP limit) ─▶ Entra authorize (PKCE, state,
                                                                               nonce; `entra_client`)
                                   GET  /oauth/callback  ◀──────────────────  code + state
                                   the code redeemed, the person checked (`EntraVerifier`), a session made,
                                   the grant approved
    POST token (device_code) ────▶ the grant taken once: access token (`tokens`) + refresh token
    POST token (refresh_token) ──▶ Entra refreshes the session (a disabled account, a removed role: 401
                                   invalid_grant, the session revoked)
    POST revoke ─────────────────▶ the session revoked
    Authorization: Bearer … ─────▶ `LoginTokens.caller`: signature, expiry, the session not revoked

Every step reads and writes `rows` (Azure Table `bridgelogin`, or memory), so any instance answers any step.
"""
