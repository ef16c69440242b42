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

import ipaddress

from bridge import VERSION
from bridge.config.load import Settings
from bridge.config.table import AUTH_TOKEN, BIG_MODEL, LONG_CONTEXT_MODEL, MIDDLE_MODEL, SMALL_MODEL, THINK_MODEL
from bridge.gateway.settings import GatewaySettings
from bridge.model import Api

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
TIERS = (
    ("opus", BIG_MODEL.name),
    ("sonnet", MIDDLE_MODEL.name),
    ("haiku", SMALL_MODEL.name),
    ("thinking", THINK_MODEL.name),
    ("long prompts", LONG_CONTEXT_MODEL.name),
)


def input_window(deployment: str) -> int | None:
    """The input window of a deployment named after its model, when the name says which."""
    lowered = deployment.lower()
    return next((window for prefix, window in WINDOWS if lowered.startswith(prefix)), None)


def _local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def startup_lines(
    settings: Settings,
    host: str,
    port: int,
    api_of: dict[str, Api],
    gateway: GatewaySettings | None = None,
    price_problems: tuple[str, ...] = (),
) -> list[str]:
    """The start-up text; `api_of` gives the upstream API each tier's deployment is called through; `gateway`
    (CLIENT_AUTH and the rest) says how clients sign in; `price_problems` what is wrong with the tiers' prices."""
    gateway = gateway or GatewaySettings()
    entra = gateway.entra if gateway.client_auth == "entra" else None
    lockout = settings.lockout or gateway.lockout
    problems = settings.problems + gateway.problems + price_problems
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    lines = [f"claude-azure-bridge {VERSION} listening on {url}"]
    for upstream in settings.upstreams:
        auth = "api key" if upstream.api_key else ("Microsoft Entra ID" if upstream.flavor == "azure" else "no key")
        api = f"API version {upstream.api_version}" if upstream.flavor == "azure" else "OpenAI-compatible"
        lines.append(f"  upstream  {upstream.source}: {upstream.host} ({api}, {auth})")
    for family, setting in TIERS:
        tier = settings.tier(setting)
        if tier is not None:
            through = "chat/completions" if api_of[tier.setting] == "chat" else "the Responses API"
            fallback = f", from {tier.setting}" if tier.setting != setting else ""
            lines.append(f"  {family:<12} → {tier.deployment} through {through}{fallback}")
    if lockout is not None:
        lines.append(f"  REFUSING every request until this is fixed: {lockout}")
    elif entra is not None:
        lines.append(
            f"  client auth: Microsoft Entra ID (tenant {entra.tenant_id}, app registration {entra.client_id}; "
            "clients send an access token or a personal key as x-api-key or Authorization: Bearer)"
        )
    elif settings.auth_token is None:
        reach = "anyone on your network" if not _local(host) else "any program on this machine"
        lines.append(f"  WARNING: client auth is OFF: {reach} can use your Azure OpenAI through it. Set {AUTH_TOKEN.name}.")
    else:
        lines.append(f"  client auth: on (clients present {AUTH_TOKEN.name} as x-api-key or Authorization: Bearer)")
    lines += [f"  problem: {problem}" for problem in problems if problem != lockout]
    lines += ["", "Point Claude Code at it (in the shell you run claude from):", f"  export ANTHROPIC_BASE_URL={url}"]
    if entra is not None:
        lines.append(f'  and in ~/.claude/settings.json: "apiKeyHelper": "{entra.token_command}"')
    elif settings.auth_token is not None:
        lines.append(f"  export {AUTH_TOKEN.name}=...   # the same token the bridge has (already set if this shell started it)")
    big = settings.tier(BIG_MODEL.name)
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
