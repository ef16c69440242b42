"""The project's own Bicep evaluator (pycep's tree): files, resources, parameters, modules, app settings, and
the few expressions the checks need evaluated.  Azure's resource models check property names; this checks
what flows where (parameters into app settings, both network modes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from lark.exceptions import LarkError
from pycep import BicepParser

from tests.support.paths import ROOT

INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


@cache
def _parser() -> BicepParser:
    return BicepParser()


@cache
def _parse(path: Path) -> dict[str, Any]:
    return _parser().parse(file_path=path)


def bicep(name: str) -> dict[str, Any]:
    """The pycep tree of infra/<name>; fails the test with a clear message if it does not parse."""
    path = INFRA / name
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    try:
        return _parse(path)
    except (LarkError, ValueError) as exc:  # lark's parse errors; ValueError for unbalanced ''' strings
        pytest.fail(f"{path.relative_to(ROOT)} does not parse with pycep-parser: {type(exc).__name__}: {exc}")


def text(name: str) -> str:
    return (INFRA / name).read_text()


def unwrap(config: Any) -> Any:
    """The object of a resource or module, through `if (...)` conditions and `[for ...]` loops."""
    while isinstance(config, dict) and "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def resources(name: str) -> dict[str, dict[str, Any]]:
    return bicep(name).get("resources") or {}


def resources_of_type(name: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in resources(name).values() if r["type"] == type_]


def one(name: str, type_: str) -> dict[str, Any]:
    found = [r for r in resources_of_type(name, type_) if not r["existing"]]
    assert len(found) == 1, f"{name}: expected one {type_} declared, found {len(found)}"
    return unwrap(found[0]["config"])


def is_operation(node: Any) -> bool:
    """pycep's node of an operator (`a ? b : c`, `a.b`, `a == b`): {"operator": {"type": ..., "operands": ...}}.
    An object literal may have a property named `operator` too (a log alert's criteria): its value is a
    plain value, never that shape."""
    return isinstance(node, dict) and isinstance(node.get("operator"), dict) and "operands" in node["operator"]


def is_call(node: Any) -> bool:
    """pycep's node of a function call: {"function": {"type": ..., "parameters": ...}} (the same caution)."""
    return isinstance(node, dict) and isinstance(node.get("function"), dict) and "type" in node["function"]


def is_expression(node: Any) -> bool:
    return is_operation(node) or is_call(node)


def dotted(node: Any) -> str | None:
    """`a.outputs.b` as a string when the node is a plain property access (or a bare name)."""
    if isinstance(node, str):
        return node
    if is_operation(node) and node["operator"]["type"] == "property_accessor":
        operands = node["operator"]["operands"]
        left, right = dotted(operands["operand_1"]), dotted(operands["operand_2"])
        if left is not None and right is not None:
            return f"{left}.{right}"
    return None


def unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def object_dicts(node: Any) -> Iterator[dict[str, Any]]:
    """Every object literal under `node`, including both branches of conditionals."""
    for item in walk(node):
        if isinstance(item, dict) and not is_expression(item):
            yield item


def variable(name: str, var: str) -> Any:
    variables = bicep(name).get("variables") or {}
    assert var in variables, f"{name}: variable {var} is missing"
    return variables[var]["value"]


def param(name: str, param_name: str) -> dict[str, Any]:
    params = bicep(name).get("parameters") or {}
    assert param_name in params, f"{name}: parameter {param_name} is missing"
    return params[param_name]


def decorator(p: dict[str, Any], type_: str) -> Any:
    for d in p.get("decorators") or []:
        if d["type"] == type_:
            return d.get("argument", True)
    return None


def module(name: str, symbol: str) -> dict[str, Any]:
    modules = bicep(name).get("modules") or {}
    assert symbol in modules, f"{name}: module {symbol} is missing"
    return modules[symbol]


def app_settings() -> dict[str, Any]:
    """Every app setting of the Function App: name -> value expression (all branches merged)."""
    site = one("functionapp.bicep", "Microsoft.Web/sites")
    loop = site["properties"]["siteConfig"]["appSettings"]
    assert isinstance(loop, dict) and "loop_type" in loop, "appSettings is built from the settings object"
    source = loop["loop_type"]["detail"]["array_name"]
    assert source["function"]["type"] == "items", "appSettings loops over items(<settings object>)"
    merged_name = source["function"]["parameters"]["arg_1"]
    merged = variable("functionapp.bicep", merged_name)
    assert merged["function"]["type"] == "union"
    settings: dict[str, Any] = {}
    for part in merged["function"]["parameters"].values():
        for obj in object_dicts(variable("functionapp.bicep", part)):
            settings.update({unquote(k): v for k, v in obj.items()})
    return settings


def unconditional_app_settings() -> set[str]:
    """Setting names from settings objects that are plain object literals (always deployed)."""
    merged = variable("functionapp.bicep", "appSettings")
    names: set[str] = set()
    for part in merged["function"]["parameters"].values():
        value = variable("functionapp.bicep", part)
        if isinstance(value, dict) and not is_expression(value):
            names.update(unquote(k) for k in value)
    return names


def role_assignments(name: str) -> list[tuple[str, str, bool]]:
    """(role definition id, principal expression, conditional) for each role assignment in infra/<name>."""
    found = []
    for res in resources_of_type(name, "Microsoft.Authorization/roleAssignments"):
        conditional = "condition" in res["config"]
        body = unwrap(res["config"])
        role = body["properties"]["roleDefinitionId"]
        fn = role["function"]
        assert fn["type"] == "subscription_resource_id", f"{name}: roleDefinitionId uses subscriptionResourceId()"
        assert fn["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        role_id = fn["parameters"]["resource_name_1"]
        if not re.fullmatch(r"[0-9a-f-]{36}", role_id):
            role_id = variable(name, role_id)
        found.append((role_id, body["properties"]["principalId"], conditional))
    return found


def evaluate(node: Any, bindings: dict[str, Any]) -> Any:
    """The value of a pycep expression, with the names in `bindings` given values.

    pycep writes names and string literals alike as plain strings: a string that is a key of
    `bindings` (also a dotted one, `names.keyVault`) is that name's value, any other is a literal.
    Covers what the templates' conditions use: ?:, !, &&, ||, ==, !=, property access, object and
    array literals, string interpolation, lambdas and the functions empty, contains, split,
    replace, filter, map and join.
    """
    if isinstance(node, str):
        if node in bindings:
            return bindings[node]
        return re.sub(r"\$\{(\w+)\}", lambda m: str(bindings[m.group(1)]) if m.group(1) in bindings else m.group(0), node)
    if isinstance(node, list):
        return [evaluate(item, bindings) for item in node]
    if not isinstance(node, dict):
        return node
    if is_operation(node):
        kind, args = node["operator"]["type"], node["operator"]["operands"]
        if kind == "property_accessor":
            name = dotted(node)
            if name is not None and name in bindings:
                return bindings[name]
            return evaluate(args["operand_1"], bindings)[args["operand_2"]]
        if kind == "conditional":
            return evaluate(args["true_value"] if evaluate(args["condition"], bindings) else args["false_value"], bindings)
        if kind == "not":
            return not evaluate(args["bool_value"], bindings)
        left, right = evaluate(args["operand_1"], bindings), evaluate(args["operand_2"], bindings)
        results = {"and": lambda: left and right, "or": lambda: left or right, "equals": lambda: left == right}
        results["not_equals"] = lambda: left != right
        results["add"] = lambda: left + right
        assert kind in results, f"evaluate: operator {kind} is not covered"
        return results[kind]()
    if is_call(node):
        kind, args = node["function"]["type"], node["function"].get("parameters") or {}
        if kind in ("filter", "map"):
            source, function = args.values()
            items, fn = evaluate(source, bindings), function["detail"]
            results = [evaluate(fn["expression"], {**bindings, fn["var_1"]: item}) for item in items]
            return [item for item, keep in zip(items, results, strict=True) if keep] if kind == "filter" else results
        values = [evaluate(value, bindings) for value in args.values()]
        functions = {
            "empty": lambda v: not v,
            "contains": lambda container, item: item in container,
            "split": lambda string, delimiter: string.split(delimiter),
            "replace": lambda string, old, new: string.replace(old, new),
            "join": lambda items, delimiter: delimiter.join(items),
            "items": lambda obj: [{"key": key, "value": obj[key]} for key in sorted(obj)],
            "union": lambda *objects: {key: value for obj in objects for key, value in obj.items()},
        }
        assert kind in functions, f"evaluate: function {kind} is not covered"
        return functions[kind](*values)
    if "loop_type" in node:
        raise AssertionError("evaluate: loops are not covered")
    return {unquote(key): evaluate(value, bindings) for key, value in node.items()}


def resource_id_of(node: Any) -> tuple[str, set[str]]:
    """(resource type, the other arguments) of a resourceId(...) call.

    pycep labels resourceId's arguments by their count, not their role, so the type is found by its shape.
    """
    assert node["function"]["type"] == "resource_id", f"not a resourceId(...) call: {node}"
    args = [arg for arg in node["function"]["parameters"].values() if arg is not None]
    types = [arg for arg in args if isinstance(arg, str) and arg.startswith("Microsoft.")]
    assert len(types) == 1, f"resourceId(...) without one resource type: {args}"
    return types[0], {dotted(arg) or json.dumps(arg) for arg in args if arg is not types[0]}


def parameters_file() -> dict[str, Any]:
    return json.loads((INFRA / "main.parameters.json").read_text())["parameters"]


def azure_yaml() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "azure.yaml").read_text())
