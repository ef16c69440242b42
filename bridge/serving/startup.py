"""What `python -m bridge` tells its user at start-up: where it listens, what serves each tier, the state of
client auth, every configuration problem, and the lines to paste into Claude Code.

The input windows are a hint for `CLAUDE_CODE_AUTO_COMPACT_WINDOW` only (the bridge never changes what it
sends by a deployment's name): Claude Code otherwise assumes its own model's window (1,000,000 tokens for
2.1.332's default, claude-opus-5-5) and compacts only after Azure refused a prompt.

    deployment name starts with         input window
    ----------------------------------  ------------
    gpt-5.4, 5.5, 5.6, gpt-6            922,000
    gpt-5                               272,000
    gpt-4.1                             1,047,576
    gpt-4o, gpt-5-chat                  128,000
    o3, o4                              200,000
"""

from __future__ import annotations

from bridge import VERSION
from bridge.config.kinds import is_loopback
from bridge.config.load import UpstreamAuth
from bridge.config.table import AUTH_TOKEN, BIG_MODEL, FAMILY_TIERS, LONG_CONTEXT_MODEL, THINK_MODEL
from bridge.serving.process import Bridge

CLAUDE_DEFAULT_WINDOW = 1_000_000
WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5.4", 922_000),
    ("gpt-5.5", 922_000),
    ("gpt-5.6", 922_000),
    ("gpt-6", 922_000),
    ("gpt-5-chat", 128_000),
    ("gpt-5", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("o3", 200_000),
    ("o4", 200_000),
)
UPSTREAM_AUTH: dict[UpstreamAuth, str] = {"api-key": "api key", "entra-id": "Microsoft Entra ID", "none": "no key"}
TIER_LABELS = (*FAMILY_TIERS.items(), ("thinking", THINK_MODEL.name), ("long prompts", LONG_CONTEXT_MODEL.name))
"""What each tier serves, as the start-up text names it, in the order it lists them."""


def input_window(deployment: str) -> int | None:
    """The input window of a deployment named after its model, when the name says which."""
    lowered = deployment.lower()
    return next((window for prefix, window in WINDOWS if lowered.startswith(prefix)), None)


def startup_lines(bridge: Bridge, host: str, port: int) -> list[str]:
    """The start-up text of `bridge` (`Bridge.describe`) listening on `host`:`port`."""
    picture = bridge.describe()
    entra, lockout = picture.entra, picture.lockout
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    lines = [f"claude-azure-bridge {VERSION} listening on {url}"]
    for upstream in picture.upstreams:
        api = "OpenAI-compatible" if upstream.api_version is None else f"API version {upstream.api_version}"
        lines.append(f"  upstream  {upstream.setting}: {upstream.host} ({api}, {UPSTREAM_AUTH[upstream.auth]})")
    for label, setting in TIER_LABELS:
        tier = picture.tiers.get(setting)
        if tier is not None:
            through = "chat/completions" if tier.api == "chat" else "the Responses API"
            fallback = f", from {tier.setting}" if tier.setting != setting else ""
            lines.append(f"  {label:<12} → {tier.deployment} through {through}{fallback}")
    if lockout is not None:
        lines.append(f"  REFUSING every request until this is fixed: {lockout}")
    elif entra is not None:
        lines.append(
            f"  client auth: Microsoft Entra ID (tenant {entra.tenant_id}, app registration {entra.client_id}; "
            "clients send an access token or a personal key as x-api-key or Authorization: Bearer)"
        )
    elif not picture.client_token:
        reach = "anyone on your network" if not is_loopback(host) else "any program on this machine"
        lines.append(f"  WARNING: client auth is OFF: {reach} can use your Azure OpenAI through it. Set {AUTH_TOKEN.name}.")
    else:
        lines.append(f"  client auth: on (clients present {AUTH_TOKEN.name} as x-api-key or Authorization: Bearer)")
    lines += [f"  problem: {problem}" for problem in picture.all_problems(detailed=True) if problem != lockout]
    lines += ["", "Point Claude Code at it (in the shell you run claude from):", f"  export ANTHROPIC_BASE_URL={url}"]
    if entra is not None:
        lines.append(f'  and in ~/.claude/settings.json: "apiKeyHelper": "{entra.token_command}"')
        if picture.login:
            lines.append(f"  or, without either: run /login in Claude Code, gateway URL {url} (docs/gateway.md)")
    elif picture.client_token:
        lines.append(f"  export {AUTH_TOKEN.name}=...   # the same token the bridge has (already set if this shell started it)")
    big = picture.tiers.get(BIG_MODEL.name)
    window = input_window(big.deployment) if big is not None else None
    if big is not None and window is None:
        lines.append(f"  export CLAUDE_CODE_AUTO_COMPACT_WINDOW=...   # the input window of {big.deployment}, in tokens")
    elif big is not None and window is not None:
        lines.append(f"  export CLAUDE_CODE_AUTO_COMPACT_WINDOW={window}   # the input window of {big.deployment}")
        if window < CLAUDE_DEFAULT_WINDOW:
            lines.append(
                f"  (Claude Code 2.1.332's default model, claude-opus-5-5, assumes {CLAUDE_DEFAULT_WINDOW:,} tokens; "
                f"{big.deployment} takes {window:,}, so without this line Claude Code compacts only after Azure refuses)"
            )
    lines += [f"Check it: curl {url}/health", ""]
    return lines
