"""Write the parts of the docs that the code and the infrastructure already say, so they cannot drift apart.

- local.settings.sample.json: every setting of `bridge.config.table.SETTINGS`, as a placeholder;
- docs/configuration.md: the settings table (from `SETTINGS`, with what `azd up` deploys, from infra/main.bicep)
  and the table of the azd variables that only shape the deployment (infra/main.parameters.json and the
  descriptions, defaults and allowed values of main.bicep's parameters);
- docs/architecture.md: the route table, from `bridge.routes.ROUTES`.

In the Markdown pages only the text between `<!-- generated: NAME ... -->` and `<!-- end: NAME -->` is
rewritten.  Run `.venv/bin/python scripts/sync_docs.py` after changing a setting, a main.bicep parameter or a
route; tests/test_docs.py fails until the files are what this script writes.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.config.table import SETTINGS, Setting  # noqa: E402
from bridge.routes import ROUTES  # noqa: E402

INFRA = ROOT / "infra"
SAMPLE = ROOT / "local.settings.sample.json"
CONFIGURATION = ROOT / "docs" / "configuration.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
HOST_VALUES = {"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsStorage": "", "PYTHON_ENABLE_INIT_INDEXING": "1"}
AZD_MANAGED = frozenset({"AZURE_ENV_NAME", "AZURE_PRINCIPAL_ID", "AZURE_RESOURCE_GROUP", "AZURE_KEY_VAULT_NAME"})
"""azd variables that azd sets itself, or feeds back from the previous provision's outputs: not for people."""
_AZD_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def azd_variables() -> dict[str, str]:
    """azd variable → the main.bicep parameter it feeds (infra/main.parameters.json), in the file's order."""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    return {var: name for name, entry in parameters.items() for var in _AZD_VARIABLE.findall(entry["value"])}


def app_setting_names() -> set[str]:
    """The app settings infra/functionapp.bicep gives the Function App (its only upper-case object keys)."""
    return set(re.findall(r"^\s+([A-Z][A-Z0-9_]*):", (INFRA / "functionapp.bicep").read_text(), re.MULTILINE))


def bicep_parameters() -> dict[str, dict[str, Any]]:
    """main.bicep's parameters as pycep reads them: type, default (None without one), decorators."""
    from pycep import BicepParser  # a test dependency (requirements-dev.txt), as this script is a developer's tool

    parameters = BicepParser().parse(file_path=INFRA / "main.bicep").get("parameters") or {}
    return {name: dict(parameter) for name, parameter in parameters.items()}


def decorator(parameter: dict[str, Any], kind: str) -> Any:
    """The argument of one decorator of a parameter (`description`, `allowed`), None without it."""
    return next((d.get("argument") for d in parameter.get("decorators") or [] if d["type"] == kind), None)


def bicep_text(value: Any) -> str:
    """A parameter default (or allowed value) as `azd env set` takes it: '' for an empty string, true/false."""
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _cell(text: str) -> str:
    """`text` for a table cell: one line, `|` escaped, and `<` outside code spans escaped (GitHub would take
    `<client id>` for an HTML tag and drop it)."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    return "`".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def _code(text: str) -> str:
    return f"`{text}`"


def _example(setting: Setting[Any]) -> str:
    """The row's example, unless it is a placeholder (`<key>`) or the default itself."""
    shown = setting.example and not setting.example.startswith("<") and setting.example != setting.default
    return setting.example if shown else ""


def sample_file() -> str:
    """local.settings.sample.json: the Functions host's values, then every setting as a `<...>` placeholder."""

    def placeholder(setting: Setting[Any]) -> str:
        example = _example(setting)
        return f"<{setting.described}{f'; e.g. {example}' if example else ''}>"

    values = {**HOST_VALUES, **{s.sample_key: placeholder(s) for s in SETTINGS}}
    # No "CORS" under "Host": func start would answer CORS itself for those origins, before the bridge (bridge.serving.cors).
    sample = {"IsEncrypted": False, "Values": values, "Host": {"LocalHttpPort": 7071}}
    return json.dumps(sample, indent=2) + "\n"


def settings_table() -> str:
    """One row per setting: what it does, its default, what `azd up` deploys (and why), and whether azd takes it."""
    variables = azd_variables()
    app_settings = app_setting_names()
    rows = ["| Setting | Meaning | Default | `azd up` sets | `azd env set` |", "| --- | --- | --- | --- | --- |"]
    for setting in SETTINGS:
        example = _example(setting)
        meaning = setting.description + (f"; e.g. {_code(example)}" if example else "")
        if setting.default:
            default = _code(setting.default)
        elif setting.default_from is not None:
            default = f"{_code(setting.default_from.name)}'s value"
        else:
            default = setting.unset
        if setting.name not in app_settings:
            in_azure = "not set"
        elif setting.in_azure:
            in_azure = _code(setting.in_azure) + (f": {setting.in_azure_note}" if setting.in_azure_note else "")
        else:
            in_azure = setting.in_azure_note or "the default"
        settable = "yes" if setting.name in variables else ""
        rows.append(f"| {_code(setting.name)} | {_cell(meaning)} | {_cell(default)} | {_cell(in_azure)} | {settable} |")
    return "\n".join(rows)


def azd_table() -> str:
    """The azd variables that shape the deployment and are no setting of the bridge, from main.bicep."""
    parameters = bicep_parameters()
    names = {setting.name for setting in SETTINGS}
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for variable, parameter_name in azd_variables().items():
        if variable in AZD_MANAGED or variable in names:
            continue
        parameter = parameters[parameter_name]
        description = str(decorator(parameter, "description") or "").replace("\\'", "'")
        description = re.sub(rf"^{re.escape(variable)}: ", "", description)
        description = description[:1].upper() + description[1:]
        allowed = decorator(parameter, "allowed")
        if allowed:
            description += " One of " + ", ".join(_code(bicep_text(value)) for value in allowed) + "."
        default = parameter.get("default")
        shown = "asked by `azd up`" if default is None else (_code(bicep_text(default)) if default != "" else "empty")
        rows.append(f"| {_code(variable)} | {shown} | {_cell(description)} |")
    return "\n".join(rows)


def route_table() -> str:
    """`bridge.routes.ROUTES`: method, path, the Functions route template and the handler (linked to its module)."""
    rows = ["| Method | Path | Handler | Functions route template |", "| --- | --- | --- | --- |"]
    for route in ROUTES:
        handler = inspect.unwrap(route.handler)
        module = handler.__module__
        source = "../" + module.replace(".", "/") + ".py"
        name = f"[{_code(module + '.' + handler.__qualname__)}]({source})"
        rows.append(f"| {', '.join(route.methods)} | {_code(route.path)} | {name} | {_code(route.functions_template)} |")
    return "\n".join(rows)


BLOCKS: dict[Path, dict[str, Callable[[], str]]] = {
    CONFIGURATION: {"settings": settings_table, "azd-variables": azd_table},
    ARCHITECTURE: {"routes": route_table},
}


def with_blocks(text: str, blocks: dict[str, Callable[[], str]], path: Path) -> str:
    """`text` with the body of each generated block replaced (the markers stay)."""
    for name, render in blocks.items():
        block = re.search(rf"<!-- generated: {name}\b[^>]*-->\n(.*?)<!-- end: {name} -->", text, re.DOTALL)
        if block is None:
            raise SystemExit(f"{path.relative_to(ROOT)} has no generated block {name!r}")
        text = text[: block.start(1)] + render() + "\n" + text[block.end(1) :]
    return text


def expected() -> dict[Path, str]:
    """Every generated file, as this script would write it."""
    files = {SAMPLE: sample_file()}
    for path, blocks in BLOCKS.items():
        files[path] = with_blocks(path.read_text(), blocks, path)
    return files


def main() -> None:
    for path, text in expected().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
