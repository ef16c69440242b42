"""Every property a Bicep resource body sets, checked against Azure's model of its type (tests/support/azure_models.py).

The templates are parsed offline with pycep (as tests/test_infra.py does). For each resource
declared in the files, the body is walked key by key against the model of its type at its API
version: a key the model does not have, a read-only one, an object or array where the model
expects something else, or a literal string outside the model's enum is a Finding that names the
file, the resource and the property path. What a key's value may be is found the way Bicep finds
it, symbolically and over every branch (nothing is evaluated):

- names: a variable is its value, a parameter is its default and what every module declaration of
  the file passes to it (in the caller's file), `m.outputs.x` is module m's output x, a loop or
  lambda variable is each element of its array; a resource's own properties (`vault.id`) are
  runtime values;
- `a ? b : c` is b and c; `union(a, b)` and `concat(a, b)` are a and b; `map` is its lambda's
  value, `filter` its array; `x.y` and `x[i]` take the field or the elements of what x may be;
- an array `[for x in xs: {...}]` is its body with x bound to each element of xs; a resource
  declared in a loop or under `if (...)` is its body; a child declared inside its parent's body is
  a resource of its own (pycep names it `parent__child`).

pycep reads `a.b ? x : y` and `!a ? x : y` as `a.(b ? x : y)` and `!(a ? x : y)`; both come out
right here because a condition is never evaluated: only the branches matter.

Not covered: the Bicep compiler's own checks (syntax beyond pycep's grammar, types of parameters
and outputs, required properties), values computed at deployment (string interpolation, resource
properties), and what ARM validates when it receives the template.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from tests.support.azure_models import MODELS, NO_MODEL, Array, Field, Map, ModelMissing, Object, Scalar, resource_model
from tests.support.bicep import _parser, is_call, is_expression, is_operation, unquote, unwrap

# Keys of a resource declaration that are the deployment's, not the resource type's.
DEPLOYMENT_KEYWORDS = {"name", "parent", "scope", "dependsOn"}
# pycep's own key on a child declared inside its parent (the implicit dependency).
NESTED_CHILD_DEPENDENCY = "depends_on"
MAX_DEPTH = 64


@cache
def parse(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], _parser().parse(text=text))


@dataclass(frozen=True)
class Finding:
    file: str
    resource: str
    type: str
    path: str
    problem: str

    def __str__(self) -> str:
        where = f"infra/{self.file}: resource {self.resource} ({self.type})"
        return f"{where}: {self.path}: {self.problem}" if self.path else f"{where}: {self.problem}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    resources: list[tuple[str, str, str]] = field(default_factory=list)  # file, symbol, type@version checked
    excepted: list[tuple[str, str, str]] = field(default_factory=list)  # file, symbol, reason
    properties: set[tuple[str, str, str]] = field(default_factory=set)  # file, symbol, path checked
    versions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (type, bicep) -> (checked, release)


@dataclass(frozen=True)
class Scope:
    file: str
    names: tuple[tuple[str, tuple[Value, ...]], ...] = ()  # loop and lambda variables

    def local(self, name: str) -> tuple[Value, ...] | None:
        for bound, values in reversed(self.names):
            if bound == name:
                return values
        return None

    def bind(self, name: str | None, values: tuple[Value, ...]) -> Scope:
        return self if name is None else Scope(self.file, (*self.names, (name, values)))


@dataclass(frozen=True)
class Value:
    """An expression node, the scope its names belong to, and the names it was reached through."""

    node: Any
    scope: Scope
    via: str = ""


OPAQUE = object()  # a value known only at deployment


def target_of(file: str, module: dict[str, Any]) -> str:
    """The file a module declaration in `file` deploys, relative to infra/ as `file` is."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(file), module["detail"]["path"]))


def misparsed_conditional(node: Any) -> Any:
    """pycep nests `!a ? x : y` as !(a ? x : y), `a == b.c ? x : y` as a == b.(c ? x : y): the conditional
    at the end of the last operands of an operator, if any, whose branches are the expression's value."""
    while is_operation(node):
        if node["operator"]["type"] == "conditional":
            return node
        node = list(node["operator"]["operands"].values())[-1]
    return None


def is_object(node: Any) -> bool:
    return isinstance(node, dict) and not is_expression(node) and not is_loop(node) and not is_lambda(node)


def is_lambda(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "lambda_expression" and "detail" in node


def is_loop(node: Any) -> bool:
    return isinstance(node, dict) and "loop_type" in node


class Project:
    """The parsed templates (file name relative to infra/ -> Bicep text) and what their names may be."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.trees = {name: parse(text) for name, text in sources.items()}
        self.callers: dict[str, list[tuple[dict[str, Any], Scope]]] = {}  # file -> module declarations of it
        for file, tree in self.trees.items():
            for module in (tree.get("modules") or {}).values():
                self.callers.setdefault(target_of(file, module), []).append((module["config"], Scope(file)))

    def section(self, file: str, name: str) -> dict[str, Any]:
        return self.trees[file].get(name) or {}

    def body_of(self, config: dict[str, Any], scope: Scope) -> tuple[dict[str, Any], Scope]:
        """The object of a resource or module declaration, its loop variables bound."""
        if is_loop(config):
            detail = config["loop_type"]["detail"]
            items = tuple(self.elements_of(detail["array_name"], scope)) or (Value(OPAQUE, scope),)
            scope = scope.bind(detail["item_name"], items).bind(detail.get("index_name"), (Value(OPAQUE, scope),))
        return unwrap(config), scope

    # ----- what an expression may be ------------------------------------------------------------------

    def values(self, node: Any, scope: Scope, via: str = "", depth: int = 0) -> Iterator[Value]:
        if depth > MAX_DEPTH:
            return
        depth += 1
        if isinstance(node, str):
            yield from self.name(node, scope, via, depth)
        elif not isinstance(node, dict) or is_object(node) or is_loop(node):
            yield Value(node, scope, via)
        elif is_operation(node):
            kind, operands = node["operator"]["type"], node["operator"]["operands"]
            if kind == "conditional":
                for branch in (operands["true_value"], operands["false_value"]):
                    yield from self.values(branch, scope, via, depth)
            elif kind == "property_accessor":
                yield from self.access(operands["operand_1"], operands["operand_2"], scope, via, depth)
            elif kind == "index_accessor":
                for container in self.values(operands["operand_1"], scope, via, depth):
                    yield from self.elements(container, depth)
            else:  # a bool, number or string, unless it is pycep's reading of `!a ? x : y` or `a == b ? x : y`
                conditional = misparsed_conditional(list(operands.values())[-1])
                yield from self.values(conditional, scope, via, depth) if conditional else [Value(OPAQUE, scope, via)]
        elif is_call(node):
            kind, args = node["function"]["type"], list((node["function"].get("parameters") or {}).values())
            if kind in ("union", "concat"):
                for arg in args:
                    yield from self.values(arg, scope, via, depth)
            elif kind == "map" and len(args) == 2 and is_lambda(args[1]):
                lambda_ = args[1]["detail"]
                items = tuple(self.elements_of(args[0], scope, depth)) or (Value(OPAQUE, scope),)
                # an array whose one element is the lambda's body, its variable bound to each item
                yield Value([lambda_["expression"]], scope.bind(lambda_["var_1"], items), via)
            elif kind == "filter" and args:
                yield from self.values(args[0], scope, via, depth)
            else:
                yield Value(OPAQUE, scope, via)
        else:
            yield Value(OPAQUE, scope, via)

    def name(self, name: str, scope: Scope, via: str, depth: int) -> Iterator[Value]:
        bound = scope.local(name)
        variables, parameters = self.section(scope.file, "variables"), self.section(scope.file, "parameters")
        if bound is not None:
            yield from bound
        elif name in variables:
            yield from self.values(variables[name]["value"], Scope(scope.file), f"variable {name} of {scope.file}", depth)
        elif name in parameters:
            origin = f"parameter {name} of {scope.file}"
            default = parameters[name].get("default")
            if default is not None:
                yield from self.values(default, Scope(scope.file), origin, depth)
            passed = []
            for config, caller in self.callers.get(scope.file, []):
                body, bound = self.body_of(config, caller)
                if name in (body.get("params") or {}):
                    passed.append((body["params"][name], bound))
            for argument, caller in passed:
                yield from self.values(argument, caller, f"{origin}, from {caller.file}", depth)
            if default is None and not passed:
                yield Value(OPAQUE, scope, origin)
        elif name in self.section(scope.file, "resources") or name in self.section(scope.file, "modules"):
            yield Value(OPAQUE, scope, via)
        else:
            yield Value(name, scope, via)  # a string literal

    def access(self, base: Any, rest: Any, scope: Scope, via: str, depth: int) -> Iterator[Value]:
        """`base.rest`, pycep's right-nested chain (`a.b.c` is a.(b.c), `a.b[0].c` is a.(b[0].c))."""
        path: list[str | None] = []  # field names; None takes the elements
        while not isinstance(rest, str):
            operator = rest["operator"] if is_operation(rest) else {}
            if operator.get("type") == "property_accessor":
                head, rest = operator["operands"]["operand_1"], operator["operands"]["operand_2"]
            elif operator.get("type") == "index_accessor":
                head, rest = rest, None
            else:  # `a.b ? x : y`, read by pycep as a.(b ? x : y): the value is a branch
                yield from self.values(rest, scope, via, depth)
                return
            if isinstance(head, str):
                path.append(head)
            elif is_operation(head) and head["operator"]["type"] == "index_accessor":
                path += [head["operator"]["operands"]["operand_1"], None]
            else:
                yield Value(OPAQUE, scope, via)
                return
            if rest is None:
                break
        if isinstance(rest, str):
            path.append(rest)
        modules = self.section(scope.file, "modules")
        if isinstance(base, str) and base in modules and path[:1] == ["outputs"] and len(path) > 1:
            target = target_of(scope.file, modules[base])
            output = self.section(target, "outputs").get(str(path[1]))
            current = list(self.values(output["value"], Scope(target), f"output {path[1]} of {target}", depth)) if output else []
            path = path[2:]
        else:
            current = list(self.values(base, scope, via, depth))
        for step in path:
            current = [found for value in current for found in self.step(value, step, depth)]
        yield from current

    def step(self, value: Value, step: str | None, depth: int) -> Iterator[Value]:
        if step is None:
            yield from self.elements(value, depth)
        elif is_object(value.node):
            for key, item in value.node.items():
                if unquote(key) == step:
                    yield from self.values(item, value.scope, value.via, depth)
        elif value.node is OPAQUE:
            yield value

    def elements(self, value: Value, depth: int = 0) -> Iterator[Value]:
        """What the items of an array value may be."""
        if isinstance(value.node, list):
            for item in value.node:
                yield from self.values(item, value.scope, value.via, depth + 1)
        elif is_loop(value.node):
            body, scope = self.body_of(value.node, value.scope)
            yield from self.values(body, scope, value.via, depth + 1)
        elif value.node is OPAQUE:
            yield value

    def elements_of(self, node: Any, scope: Scope, depth: int = 0) -> Iterator[Value]:
        for value in self.values(node, scope, depth=depth):
            yield from self.elements(value, depth)


# ----- the check ------------------------------------------------------------------------------------------


@dataclass
class Walk:
    project: Project
    report: Report
    file: str
    symbol: str
    type: str

    def finding(self, path: str, problem: str, value: Value | None = None) -> None:
        if value is not None and value.via:
            problem += f" (set through {value.via})"
        found = Finding(self.file, self.symbol.replace("__", "::"), self.type, path, problem)
        if found not in self.report.findings:
            self.report.findings.append(found)

    def check(self, node: Any, scope: Scope, field: Field, path: str) -> None:
        for value in self.project.values(node, scope):
            self.check_value(value, field, path)

    def check_value(self, value: Value, field: Field, path: str) -> None:
        shape, node = field.shape, value.node
        if isinstance(shape, Scalar) and shape.kind == "any":
            return
        if is_object(node):
            if isinstance(shape, Object):
                self.check_object(value, shape, path)
            elif isinstance(shape, Map):
                for key, item in node.items():
                    self.check(item, value.scope, Field(shape.value, False, field.values), f"{path}[{key}]")
            else:
                self.finding(path, f"an object, where the model has {shape.describe()}", value)
        elif isinstance(node, list) or is_loop(node):
            if isinstance(shape, Array):
                for item in self.project.elements(value):
                    self.check_value(item, Field(shape.item, False, field.values), f"{path}[]")
            else:
                self.finding(path, f"an array, where the model has {shape.describe()}", value)
        elif isinstance(node, str) and field.values and "${" not in node and not known_value(node, field.values):
            self.finding(path, f"'{node}' is none of the model's values: {', '.join(sorted(field.values))}", value)

    def check_object(self, value: Value, shape: Object, path: str, top: bool = False) -> None:
        literals = {unquote(key): item for key, item in value.node.items() if isinstance(item, str)}
        shape = shape.discriminated(literals)
        for key, item in value.node.items():
            name = unquote(key)
            here = f"{path}.{name}" if path else name
            if top and (name in DEPLOYMENT_KEYWORDS or (name == NESTED_CHILD_DEPENDENCY and "__" in self.symbol)):
                continue
            self.report.properties.add((self.file, self.symbol, here))
            if "${" in name:
                self.finding(here, f"a computed property name, where the model ({shape.name}) has fixed ones", value)
                continue
            found = shape.fields.get(name)
            if found is None:
                self.finding(here, f"no such property in the model ({shape.name}){suggestion(name, shape)}", value)
            elif found.readonly:
                self.finding(here, f"read-only in the model ({shape.name}): Azure sets it", value)
            else:
                self.check(item, value.scope, found, here)


def known_value(value: str, values: frozenset[str]) -> bool:
    """Azure's enums compare without regard to case (the SDK's CaseInsensitiveEnumMeta)."""
    return value.lower() in {known.lower() for known in values}


def suggestion(name: str, shape: Object) -> str:
    same_case = [known for known in shape.fields if known.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, list(shape.fields), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def check_project(sources: Mapping[str, str]) -> Report:
    """Walk every resource declared in `sources` (name relative to infra/ -> Bicep text)."""
    project = Project(sources)
    report = Report()
    for file, tree in project.trees.items():
        for symbol, resource in (tree.get("resources") or {}).items():
            if resource["existing"]:
                continue  # a reference to a resource deployed elsewhere: it sets no property
            type_, version = resource["type"], resource["api_version"]
            walk = Walk(project, report, file, symbol, f"{type_}@{version}")
            if type_ in NO_MODEL:
                report.excepted.append((file, symbol, NO_MODEL[type_]))
                continue
            if type_ not in MODELS:
                walk.finding(
                    "",
                    "no model is known for this type: map it in MODELS (tests/support/azure_models.py) or list it in NO_MODEL with the reason",
                )
                continue
            try:
                model = resource_model(type_, version)
            except ModelMissing as missing:
                walk.finding("", str(missing))
                continue
            report.resources.append((file, symbol, walk.type))
            report.versions[(type_, version)] = (model.checked_version, model.release)
            body, scope = project.body_of(resource["config"], Scope(file))
            walk.check_object(Value(body, scope), model.shape, "", top=True)
    return report
