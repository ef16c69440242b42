"""Settings: normalised values, and every problem reported by name."""

from __future__ import annotations

from bridge.config.load import load_settings


def test_settings_normalise_and_report() -> None:
    settings = load_settings(
        {
            "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/openai/v1/",
            "AZURE_API_VERSION": "2024-10-21",
            "BIG_MODEL": "gpt-5",
            "REQUEST_TIMEOUT": "soon",
            "MAX_TOKENS_LIMIT": "-3",
            "CUSTOM_HEADER_X_API_KEY": "abc",
            "CUSTOM_HEADER_X_TEAM": "<placeholder>",
            "AZURE_OPENAI_API_KEY": "<API key of the resource>",
        }
    )
    primary = settings.upstreams[0]
    assert primary.base_url == "https://res.openai.azure.com"
    assert primary.api_version == "2024-10-21" and not primary.uses_v1_api
    assert primary.api_key is None
    assert settings.tier("MIDDLE_MODEL") == settings.tier("SMALL_MODEL") == settings.tiers["BIG_MODEL"]
    assert settings.custom_headers == {"X-API-KEY": "abc"}
    assert any("REQUEST_TIMEOUT" in p for p in settings.problems) and any("MAX_TOKENS_LIMIT" in p for p in settings.problems)
    assert load_settings({}).problems and any("AZURE_OPENAI_ENDPOINT" in p for p in load_settings({}).problems)
