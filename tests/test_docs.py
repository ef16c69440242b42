"""The README and docs/ stay true: their generated parts, their links, and the paths they name.

- What `scripts/sync_docs.py` writes (local.settings.sample.json, the tables of docs/configuration.md, the
  route table of docs/architecture.md) is what the files hold.
- Every relative link of README.md and docs/*.md reaches a file, and its `#anchor` a heading of that file
  (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens).
- Every repository path the pages name (`bridge/...`, `tests/...`, `infra/...`, ...) exists.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from bridge.config.table import SETTINGS
from tests.support.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE = re.compile(r"^\[[^\]\n]+\]:\s*(\S+)", re.MULTILINE)
PATH = re.compile(r"(?<![\w./-])((?:bridge|tests|infra|scripts|bench|docs)/[\w./*-]*[\w*/])")


@cache
def sync_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_docs", ROOT / "scripts" / "sync_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose(text: str) -> str:
    """The text without code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, Markdown and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text.replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        if match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            base = slug(match[1])
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> Iterator[str]:
    text = prose(page.read_text())
    yield from LINK.findall(text)
    yield from REFERENCE.findall(text)


def test_generated_parts_are_what_sync_docs_writes() -> None:
    for path, text in sync_docs().expected().items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is not what scripts/sync_docs.py writes: run .venv/bin/python scripts/sync_docs.py"
        )


def test_the_configuration_page_lists_every_setting() -> None:
    table = (ROOT / "docs" / "configuration.md").read_text().split("<!-- generated: settings", 1)[1]
    table = table.split("<!-- end: settings -->", 1)[0]
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in table, f"{setting.name} missing from docs/configuration.md's settings table"
    for row in ("| `REQUEST_TIMEOUT` |", "| `MAX_STREAM_SECONDS` |"):
        line = next(line for line in table.splitlines() if line.startswith(row))
        assert "`22" in line, f"the row says what `azd up` deploys: {line}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_relative_links_reach_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_the_paths_a_page_names_exist(page: Path) -> None:
    missing = sorted(
        {path for path in PATH.findall(page.read_text()) if not any(ROOT.glob(path.rstrip("/")))},
    )
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_slugs_are_githubs() -> None:
    assert slug("Sign-in with Entra ID (`CLIENT_AUTH=entra`)") == "sign-in-with-entra-id-client_authentra"
    assert slug("What gets created, and what it costs when idle") == "what-gets-created-and-what-it-costs-when-idle"
    assert slug("Long responses and the 230-second limit") == "long-responses-and-the-230-second-limit"
    assert slug("The recorded corpus in `../shared`") == "the-recorded-corpus-in-shared"


def test_the_layout_names_every_module_of_bridge() -> None:
    """A new module appears in architecture.md's layout, where a newcomer looks for the place of a change."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = next(match[0] for match in FENCE.finditer(text) if match[0].startswith("```text\nbridge/"))
    words = set(re.findall(r"\w+", block))
    modules = sorted(path for path in (ROOT / "bridge").rglob("*.py") if path.stem != "__init__")
    missing = [str(path.relative_to(ROOT)) for path in modules if path.stem not in words]
    assert not missing, f"docs/architecture.md's layout does not name {missing}: add each where it belongs"
