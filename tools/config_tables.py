"""Write config/README.md's key tables from the config schema.

    python tools/config_tables.py            # rewrite the tables of config/README.md
    python tools/config_tables.py --check    # exit 1 (and name the sections) if they differ

Each top-level section of ``workflow/schemas/config.schema.yaml`` has one table, between
``<!-- keys-SECTION:start -->`` and ``<!-- keys-SECTION:end -->``: every key below the
section with its type, default and meaning (the schema's description, units in brackets).
The prose around the tables is the document's own. Keys that ``$ref`` the same definition
(``simulators.lf`` and ``.hf``) share the rows of its keys (``simulators.<lf|hf>.dt``); a
mapping of free names (``prior``, ``observations.examples``) gets a ``<name>`` row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "workflow" / "schemas" / "config.schema.yaml"
README_PATH = ROOT / "config" / "README.md"
HEADER = "| key | type | default | meaning |\n|---|---|---|---|"
LONG_ENUM = 8
"""Enums with more values than this list them in the meaning, not the type."""
NOUNS = {"integer": ("integer", "integers"), "number": ("number", "numbers"),
         "string": ("string", "strings"), "object": ("mapping", "mappings"),
         "boolean": ("boolean", "booleans"), "array": ("list", "lists")}
"""JSON Schema's types in words (singular, plural)."""
LISTED_KEYS = 3
"""A mapping with at most this many keys names them in its type (``mapping {low, high}``)."""


def markers(section: str) -> tuple[str, str]:
    return f"<!-- keys-{section}:start -->", f"<!-- keys-{section}:end -->"


def resolve(node: Mapping, schema: Mapping) -> dict:
    """``node`` with its ``$ref`` (``#/$defs/NAME``) filled in; its own keys win."""
    if "$ref" not in node:
        return dict(node)
    target = schema
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def value_text(value) -> str:
    """A value as YAML flow text (``[50, 100]``, ``{name: markov}``, ``null``)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False,
                          allow_unicode=True).strip().removesuffix("\n...").strip()


def code(value) -> str:
    """A value for a table cell: numbers plain, anything else as code."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value_text(value)
    return f"`{value_text(value)}`"


def alternatives(items: list[str]) -> str:
    """``a, b or c``; ``a; b; or c`` when an item holds a comma itself."""
    if len(items) == 1:
        return items[0]
    joint = "; " if any(", " in item for item in items) else ", "
    return f"{joint.join(items[:-1])}{joint.strip() if joint == '; ' else ''} or {items[-1]}"


def bounds_text(node: Mapping) -> str:
    """`` ≥ 0``, `` > 0``, `` in (0, 1)``... of a number or integer ('' if unbounded)."""
    low = ("[", node["minimum"]) if "minimum" in node else (
        ("(", node["exclusiveMinimum"]) if "exclusiveMinimum" in node else None)
    high = ("]", node["maximum"]) if "maximum" in node else (
        (")", node["exclusiveMaximum"]) if "exclusiveMaximum" in node else None)
    if low and high:
        return f" in {low[0]}{value_text(low[1])}, {value_text(high[1])}{high[0]}"
    if low:
        return f" {'≥' if low[0] == '[' else '>'} {value_text(low[1])}"
    if high:
        return f" {'≤' if high[0] == ']' else '<'} {value_text(high[1])}"
    return ""


def type_text(node: Mapping, schema: Mapping, plural: bool = False) -> str:
    """What a value of ``node`` is, in words: ``integer ≥ 1``, ``list of unique integers
    ≥ 1, at least one``, ``string or null``, ``mapping {low, high, scale}``..."""
    node = resolve(node, schema)
    for combinator in ("oneOf", "anyOf"):
        if combinator in node:
            rest = {k: v for k, v in node.items() if k not in (combinator, "type")}
            return alternatives([type_text({**rest, **option}, schema, plural)
                                 for option in node[combinator]])
    if "enum" in node:
        if len(node["enum"]) > LONG_ENUM:
            return "names (listed in the meaning)" if plural else "a name (listed in the meaning)"
        return alternatives([code(value) for value in node["enum"]])
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    words = [_one_type(kind, node, schema, plural) for kind in types if kind != "null"]
    if not words and "properties" in node:
        words = [_one_type("object", node, schema, plural)]
    text = alternatives(words) if words else "any value"
    return f"{text}, or null" if "null" in types and "," in text else (
        f"{text} or null" if "null" in types else text)


def _one_type(kind: str, node: Mapping, schema: Mapping, plural: bool) -> str:
    noun = NOUNS[kind][plural]
    if kind in ("integer", "number"):
        return noun + bounds_text(node)
    if kind == "string" and "pattern" in node:
        return f"{noun} matching `{node['pattern']}`"
    if kind == "array":
        items = node.get("items", {})
        count = (f"{node['minItems']} " if node.get("minItems") == node.get("maxItems")
                 and "minItems" in node else "")
        unique = "unique " if node.get("uniqueItems") else ""
        text = f"{noun} of {count}{unique}" + (
            type_text(items, schema, plural=True) if items else "values")
        if node.get("minItems") == 1 and not count:
            text += ", at least one"
        return text
    if kind == "object":
        properties = node.get("properties")
        if properties:
            return (f"{noun} {{{', '.join(properties)}}}" if len(properties) <= LISTED_KEYS
                    else f"{noun} (its keys below)")
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            if "propertyNames" in node:
                return f"{noun} of `<name>` (below)"
            return f"{noun} name → {type_text(extra, schema)}"
        return noun
    return noun


def default_text(name: str, node: Mapping, parent: Mapping, schema: Mapping) -> str:
    """The default of key ``name`` (a child of ``parent``): per neuron model where the
    parent has ``x-model-defaults``, else the schema's; ``(required)`` or ``absent``."""
    per_model = parent.get("x-model-defaults")
    if per_model and any(name in values for values in per_model.values()):
        groups: dict[str, list[str]] = {}
        for model, values in per_model.items():
            if name in values:
                groups.setdefault(code(values[name]), []).append(model)
        if len(groups) == 1 and len(next(iter(groups.values()))) == len(per_model):
            return next(iter(groups))
        return ", ".join(f"{value} ({', '.join(models)})" for value, models in groups.items())
    node = resolve(node, schema)
    if "default" in node:
        return code(node["default"])
    return "(required)" if name in parent.get("required", []) else "absent"


def one_line(text) -> str:
    return " ".join(str(text).split())


def meaning_text(node: Mapping, schema: Mapping) -> str:
    """The description, one line; a long enum's values and the descriptions of the
    alternatives (``oneOf``, ``anyOf``) appended."""
    node = resolve(node, schema)
    parts = [one_line(node.get("description", ""))]
    for values in (node.get("enum"), node.get("items", {}).get("enum")):
        if values and len(values) > LONG_ENUM:
            parts.append(f"Names: {', '.join(f'`{v}`' for v in values)}.")
    for option in node.get("oneOf", []) + node.get("anyOf", []):
        if "description" in option:
            parts.append(f"{type_text(option, schema)}: {one_line(option['description'])}")
    return " ".join(part for part in parts if part)


def names_text(node: Mapping) -> str:
    """The names a mapping of free names takes (its ``propertyNames``)."""
    names = node.get("propertyNames", {})
    if "enum" in names:
        return f"`<name>` is one of {', '.join(f'`{v}`' for v in names['enum'])}."
    return f"`<name>` matches `{names['pattern']}`." if "pattern" in names else ""


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def row(path: str, type_: str, default: str, meaning: str) -> str:
    return f"| {cell(f'`{path}`')} | {cell(type_)} | {cell(default)} | {cell(meaning)} |"


def key_row(path: str, name: str, node: Mapping, parent: Mapping, schema: Mapping) -> str:
    return row(path, type_text(node, schema), default_text(name, node, parent, schema),
               meaning_text(node, schema))


def rows(prefix: str, parent: Mapping, schema: Mapping) -> list[str]:
    """The rows of every key below the mapping ``parent`` (resolved), paths after
    ``prefix``: each key, then its keys; keys that ``$ref`` one definition share the
    rows of its keys, after the last of them."""
    lines = []
    properties = parent.get("properties", {})
    sharing: dict[str, list[str]] = {}
    for name, node in properties.items():
        if "$ref" in node:
            sharing.setdefault(node["$ref"], []).append(name)
    for name, node in properties.items():
        lines.append(key_row(prefix + name, name, node, parent, schema))
        group = sharing.get(node.get("$ref"), [name])
        if group[-1] != name:
            continue
        shared = name if len(group) == 1 else f"<{'|'.join(group)}>"
        lines += children(f"{prefix}{shared}.", resolve(node, schema), schema)
    return lines


def children(prefix: str, node: Mapping, schema: Mapping) -> list[str]:
    """Rows below a key: its own keys, or the ``<name>`` of a mapping of free names (and
    the keys below that)."""
    if "properties" in node:
        return rows(prefix, node, schema)
    extra = node.get("additionalProperties")
    if node.get("type") == "object" and isinstance(extra, Mapping) and "propertyNames" in node:
        entry = resolve(extra, schema)
        meaning = " ".join(filter(None, [names_text(node), meaning_text(entry, schema)]))
        lines = [row(f"{prefix}<name>", type_text(entry, schema), "–", meaning)]
        if "properties" in entry:
            lines += rows(f"{prefix}<name>.", entry, schema)
        return lines
    return []


def section_table(section: str, schema: Mapping) -> str:
    """The table of top-level key ``section``: its own row unless it is a mapping that
    defaults to nothing (its keys say everything), then every key below it."""
    node = resolve(schema["properties"][section], schema)
    lines = [] if node.get("default") == {} else [key_row(section, section, node, schema, schema)]
    lines += children(f"{section}.", node, schema)
    return "\n".join([HEADER, *lines])


def rewrite(text: str, schema: Mapping) -> str:
    """``text`` with every section's table rewritten between its markers.

    Raises
    ------
    ValueError naming a section whose markers are missing, doubled or out of order.
    """
    for section in schema["properties"]:
        start, end = markers(section)
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise ValueError(f"config/README.md needs one '{start}' and one '{end}' after it "
                             f"(the table of section {section!r})")
        before, rest = text.split(start)
        _, after = rest.split(end)
        text = f"{before}{start}\n{section_table(section, schema)}\n{end}{after}"
    return text


def changed_sections(old: str, new: str, schema: Mapping) -> list[str]:
    def table(text, section):
        start, end = markers(section)
        return text.split(start)[1].split(end)[0]
    return [s for s in schema["properties"] if table(old, s) != table(new, s)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a table differs from the schema's")
    parser.add_argument("--schema", type=Path, default=SCHEMA_PATH)
    parser.add_argument("--doc", type=Path, default=README_PATH)
    args = parser.parse_args(argv)
    schema = yaml.safe_load(args.schema.read_text(encoding="utf-8"))
    old = args.doc.read_text(encoding="utf-8")
    try:
        new = rewrite(old, schema)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.check:
        stale = changed_sections(old, new, schema)
        if stale:
            print(f"{args.doc}: the key tables of {', '.join(stale)} differ from "
                  f"{args.schema}; run python tools/config_tables.py", file=sys.stderr)
            return 1
        return 0
    if new != old:
        args.doc.write_text(new, encoding="utf-8")
        print(f"{args.doc}: key tables rewritten from {args.schema}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
