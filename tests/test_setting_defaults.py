"""A setting's default is written once, on its row, and is what the bridge uses when the setting is unset."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config.load import load_settings
from bridge.config.table import (
    BIG_MODEL,
    MAX_STREAM_SECONDS,
    REQUEST_TIMEOUT,
    SETTINGS,
    TIER_FALLBACKS,
    TIER_SETTINGS,
    Setting,
)
from bridge.gateway.auth.entra_config import EntraConfig
from bridge.gateway.auth.keys import MemoryKeyStore, PersonalKeys
from bridge.gateway.settings import GatewaySettings, load_gateway_settings

NAMES = [setting.name for setting in SETTINGS]


@pytest.mark.parametrize("setting", SETTINGS, ids=NAMES)
def test_a_row_says_what_unset_means_at_most_once(setting: Setting[Any]) -> None:
    said = [bool(setting.default), setting.default_from is not None, bool(setting.unset)]
    assert sum(said) <= 1, f"{setting.name}: one of default, default_from or unset"
    for prose in ("(default", "default:", "; unset", "(unset"):
        assert prose not in setting.description, f"{setting.name}: the default goes on the row, not in the description"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.default or s.in_azure], ids=lambda s: s.name)
def test_defaults_and_azure_values_parse_by_the_settings_kind(setting: Setting[Any]) -> None:
    for text in (setting.default, setting.in_azure):
        if text:
            setting.kind.parse(text)
    assert setting.in_azure != setting.default, f"{setting.name}: in_azure only when `azd up` deploys something else"
    assert not setting.in_azure or setting.in_azure_note, f"{setting.name}: say why `azd up` deploys {setting.in_azure}"


def test_unset_settings_take_their_rows_defaults() -> None:
    settings = load_settings({})
    assert settings.request_timeout == 600
    assert settings.max_stream_seconds == 600, "MAX_STREAM_SECONDS takes REQUEST_TIMEOUT's value"
    assert settings.heartbeat_seconds == 10
    assert settings.long_context_threshold == 60000
    assert settings.max_request_bytes == 32 * 1024 * 1024
    assert settings.max_tokens_limit is None
    gateway = load_gateway_settings({})
    assert gateway.client_auth == "token"
    assert (gateway.key_lifetime_days, gateway.key_sign_in_days) == (30, 7)
    assert GatewaySettings() == gateway
    assert EntraConfig("tenant", "client").authority == "https://login.microsoftonline.com"
    keys = PersonalKeys(MemoryKeyStore())
    assert (keys.lifetime_days, keys.sign_in_days) == (30, 7)


def test_a_malformed_value_is_a_problem_and_the_default_serves() -> None:
    settings = load_settings({"REQUEST_TIMEOUT": "soon", "HEARTBEAT_SECONDS": "-1"})
    assert settings.request_timeout == 600 and settings.heartbeat_seconds == 10
    assert any(p.startswith("REQUEST_TIMEOUT ") for p in settings.problems)
    assert any(p.startswith("HEARTBEAT_SECONDS ") for p in settings.problems)


def test_a_setting_that_takes_anothers_value_follows_it() -> None:
    assert MAX_STREAM_SECONDS.default_from is REQUEST_TIMEOUT
    assert load_settings({"REQUEST_TIMEOUT": "100"}).max_stream_seconds == 100
    assert load_settings({"REQUEST_TIMEOUT": "100", "MAX_STREAM_SECONDS": "50"}).max_stream_seconds == 50


def test_tier_fallbacks_follow_the_rows() -> None:
    """TIER_FALLBACKS (what `Settings.tier` walks) is the chain of `default_from` of each tier row."""
    for tier in TIER_SETTINGS:
        chain = [tier.name]
        link = tier.default_from
        while link is not None:
            chain.append(link.name)
            link = link.default_from
        assert TIER_FALLBACKS.get(tier.name, (tier.name,)) == tuple(chain), tier.name
    assert (
        load_settings({"BIG_MODEL": "gpt-5"}).tier("SMALL_MODEL") == load_settings({"BIG_MODEL": "gpt-5"}).tiers[BIG_MODEL.name]
    )


def test_help_shows_each_default() -> None:
    from bridge.__main__ import _settings_help

    shown = _settings_help()
    assert "docs/configuration.md" in shown
    assert "end to end, upstream retries included; default: 600" in " ".join(shown.split())
    assert "default: REQUEST_TIMEOUT's value" in " ".join(shown.split())
