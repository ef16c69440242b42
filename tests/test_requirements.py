"""The pinned dependencies: requirements.txt is what Flex Consumption's remote build installs.

requirements.in and requirements-dev.in hold the direct dependencies with ranges; `scripts/pin`
resolves them into exact pins in requirements.txt and requirements-dev.txt. These checks keep the
pins exact, the pins and the ranges in agreement, every package the app imports a direct
dependency, and the test run on exactly the pinned versions.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.paths import ROOT

PIN_COMMAND = "scripts/pin"
HOW_TO_FIX = f"edit requirements.in or requirements-dev.in, then run {PIN_COMMAND}"
PIN_FILES = [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)\s*(?:;\s*(?P<marker>[^#]+?))?\s*$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None

    def applies(self) -> bool:
        """True when this pin is the one pip installs on the running interpreter and platform."""
        return self.marker is None or self.marker.evaluate()


def requirement_lines(name: str) -> list[str]:
    """Lines that are neither comments nor blank, trailing comments removed."""
    lines = []
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@cache
def pins(name: str) -> tuple[Pin, ...]:
    found = []
    for line in requirement_lines(name):
        if line == "-r requirements.txt":
            continue
        match = PIN.match(line)
        assert match, f"{name}: {line!r} is not an exact pin (name==version); {HOW_TO_FIX}"
        marker = Marker(match["marker"]) if match["marker"] else None
        found.append(Pin(canonicalize_name(match["name"]), Version(match["version"]), marker))
    return tuple(found)


def ranges(name: str) -> list[Requirement]:
    return [Requirement(line) for line in requirement_lines(name)]


def test_runtime_pins_are_exact_and_unique() -> None:
    found = pins("requirements.txt")
    assert len(found) > 10, "requirements.txt pins the whole runtime closure, transitive packages included"
    for line in requirement_lines("requirements.txt"):
        assert not line.startswith("-"), f"requirements.txt: {line!r}: the Flex build reads plain pins only"
    seen = {(pin.name, str(pin.marker)) for pin in found}
    assert len(seen) == len(found), "requirements.txt pins a package twice for the same environment"


def test_dev_pins_are_exact_and_install_over_the_runtime_pins() -> None:
    lines = requirement_lines("requirements-dev.txt")
    assert lines[0] == "-r requirements.txt", "requirements-dev.txt starts from the runtime pins"
    runtime = {pin.name for pin in pins("requirements.txt")}
    dev = pins("requirements-dev.txt")
    both = sorted(pin.name for pin in dev if pin.name in runtime)
    assert not both, f"requirements-dev.txt repeats runtime pins {both}; {HOW_TO_FIX}"


@pytest.mark.parametrize(("source", "pinned"), PIN_FILES)
def test_pins_satisfy_the_ranges(source: str, pinned: str) -> None:
    by_name: dict[str, list[Pin]] = {}
    for pin in {*pins("requirements.txt"), *pins(pinned)}:
        by_name.setdefault(pin.name, []).append(pin)
    for requirement in ranges(source):
        name = canonicalize_name(requirement.name)
        assert name in by_name, f"{source} names {requirement.name}, which {pinned} does not pin; {HOW_TO_FIX}"
        for pin in by_name[name]:
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"{pinned} pins {name}=={pin.version}, outside {source}'s {requirement}; {HOW_TO_FIX}"
            )


@pytest.mark.parametrize(("source", "pinned"), PIN_FILES)
def test_direct_pins_come_from_the_ranges(source: str, pinned: str) -> None:
    """A pin annotated `via -r <source>` belongs to a package <source> still names."""
    text = (ROOT / pinned).read_text()
    direct: set[str] = set()
    current = None
    for line in text.splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match["name"])
        elif current and f"-r {source}" in line:
            direct.add(current)
    named = {canonicalize_name(r.name) for r in ranges(source)}
    assert direct == named, f"{pinned} is stale against {source} (differs in {sorted(direct ^ named)}); {HOW_TO_FIX}"


def test_the_tests_run_on_exactly_the_pinned_versions() -> None:
    """scripts/test installs requirements-dev.txt; every pin that applies here is what is installed."""
    wrong = []
    for pin in pins("requirements.txt") + pins("requirements-dev.txt"):
        if not pin.applies():
            continue
        try:
            installed = Version(importlib.metadata.version(pin.name))
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{pin.name} (not installed)")
            continue
        if installed != pin.version:
            wrong.append(f"{pin.name} {installed} (pinned {pin.version})")
    assert not wrong, f"installed versions differ from the pins, run scripts/test to reinstall: {wrong}"


# ----- every package the app imports is a direct, pinned dependency ---------------------------------


def app_sources() -> list[Path]:
    return [ROOT / "function_app.py", *sorted((ROOT / "bridge").rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    """Absolute imports of a module, anywhere in it (also inside functions); `from a import b` is `a.b`, for `a`
    may be a namespace package whose `b` is the distribution's own (`from opentelemetry import trace`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@cache
def distribution_of(module: str) -> str | None:
    """The distribution that provides `module`, or None for the standard library and the project itself.

    Only the top-level package is looked up (nothing gets imported), or for a namespace package such
    as `azure`, which several distributions share, the first level below it that is a real package
    (`azure.identity`, `azure.data.tables`).
    """
    parts = module.split(".")
    if parts[0] in sys.stdlib_module_names or parts[0] in {"bridge", "function_app"}:
        return None
    depth = 1
    spec = importlib.util.find_spec(parts[0])
    while spec is not None and spec.origin is None and depth < len(parts):
        depth += 1
        spec = importlib.util.find_spec(".".join(parts[:depth]))
    assert spec is not None and spec.origin, f"the app imports {module}, which is not installed; {HOW_TO_FIX}"
    origin = Path(spec.origin).resolve()
    for name in packages_distributions().get(parts[0], []):
        dist = importlib.metadata.distribution(name)
        named_alike = (file for file in dist.files or [] if file.name == origin.name)  # resolve only those: thousands
        if any(Path(str(dist.locate_file(file))).resolve() == origin for file in named_alike):
            return canonicalize_name(name)
    pytest.fail(f"no installed distribution provides {module} ({origin})")


@cache
def packages_distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


@pytest.mark.slow
def test_every_package_the_app_imports_is_a_direct_dependency() -> None:
    direct = {canonicalize_name(r.name) for r in ranges("requirements.in")}
    missing: dict[str, set[str]] = {}
    for path in app_sources():
        for module in imported_modules(path):
            owner = distribution_of(module)
            if owner is not None and owner not in direct:
                missing.setdefault(owner, set()).add(str(path.relative_to(ROOT)))
    named = {owner: sorted(paths) for owner, paths in sorted(missing.items())}
    assert not missing, (
        f"the app imports packages requirements.in does not name (package: importing files): {named}; {HOW_TO_FIX}"
    )
