"""Strict-mode JSON Schema rules (function tools with `strict: true`, `json_schema` formats with `strict: true`).

In strict mode every object must say `additionalProperties: false` and list
every property in `required`; the service names the first object that does
not, by its path from the root as a Python tuple (`context=()` for the root,
`context=('properties', 'a')` below it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Context = tuple[str, ...]


def strict_violation(schema: Any) -> str | None:
    """What the service says of the first strict-mode violation in `schema`, or None when it is closed."""
    for context, node in _nodes(schema, ()):
        if not _is_object(node):
            continue
        if node.get("additionalProperties") is not False:
            return f"In context={context!r}, 'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties")
        required = node.get("required")
        if not isinstance(properties, dict):
            properties = {}
        if not isinstance(required, list):
            required = []
        absent = [key for key in properties if key not in required]
        if absent:
            return (
                f"In context={context!r}, 'required' is required to be supplied and to be an array including every "
                f"key in properties. Missing '{absent[0]}'."
            )
    return None


def _is_object(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or isinstance(node.get("properties"), dict)


def _nodes(node: Any, context: Context) -> Iterator[tuple[Context, Mapping[str, Any]]]:
    """Every sub-schema with its context, parents first."""
    if not isinstance(node, dict):
        return
    yield context, node
    for keyword in ("properties", "$defs", "definitions"):
        children = node.get(keyword)
        if isinstance(children, dict):
            for key, child in children.items():
                yield from _nodes(child, (*context, keyword, key))
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], (*context, "items"))
    for keyword in ("anyOf", "allOf"):
        variants = node.get(keyword)
        if isinstance(variants, list):
            for index, child in enumerate(variants):
                yield from _nodes(child, (*context, keyword, str(index)))
