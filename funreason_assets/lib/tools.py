"""Tool specifications: BFCL-style function docs normalized to JSON Schema.

BFCL's multi-turn function docs use a non-standard type vocabulary (`dict`, `float`, `tuple`,
`any`) and hide enums in descriptions (`[Enum]: ["a", "b"]`). A `ToolSpec` keeps the original
doc for the BFCL export and carries a normalized JSON Schema for everything else (validation,
model prompts, OpenAI `tools=`).
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_BFCL_TO_JSON_TYPE = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "integer": "integer",
    "int": "integer",
    "string": "string",
    "str": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "null": "null",
}
_ENUM_IN_DESCRIPTION = re.compile(r"\[Enum\]:\s*(\[.*?\])")
# Bare lists may hold multi-word values ("Sunset Valley"): words joined by single spaces.
_ENUM_WORD = r"[A-Za-z0-9_\-]+(?: [A-Za-z0-9_\-]+)*"
_ENUM_LIST_IN_DESCRIPTION = re.compile(rf"\[Enum\]:\s*({_ENUM_WORD}(?:\s*,\s*{_ENUM_WORD})+)")
_SCHEMA_KEYWORDS_KEPT = ("default", "minimum", "maximum", "minItems", "maxItems", "enum")


class ToolDocError(ValueError):
    """A function doc is malformed; the message names the source and the field."""


class ToolSpec(BaseModel):
    """One callable tool of an environment class.

    Attributes:
        class_name: The environment class that owns the tool (e.g. `TravelAPI`).
        name: The method name, which is also the name used in BFCL call strings.
        description: What the tool does, from the doc.
        parameters: JSON Schema (`type: object`) of the keyword arguments.
        returns: JSON Schema of the result (`{}` when the doc does not say).
        bfcl_doc: The doc in BFCL's own vocabulary, exported unchanged to BFCL files.
        positional_order: Parameter names in signature order, for positional arguments.
    """

    model_config = ConfigDict(frozen=True)

    class_name: str
    name: str
    description: str
    parameters: dict[str, Any]
    returns: dict[str, Any] = Field(default_factory=dict)
    bfcl_doc: dict[str, Any]
    positional_order: tuple[str, ...] = ()

    def __hash__(self) -> int:
        # Hash on identity fields only (dict fields are unhashable); equality stays full.
        return hash((self.class_name, self.name))

    @property
    def key(self) -> str:
        """Catalog-wide unique key `Class.name`."""
        return f"{self.class_name}.{self.name}"

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required parameters."""
        return tuple(self.parameters.get("required", ()))

    def openai_tool(self) -> dict[str, Any]:
        """This tool in the OpenAI `tools=` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def normalize_schema(schema: Any, where: str) -> dict[str, Any]:
    """Translate one BFCL parameter/response schema into JSON Schema.

    Args:
        schema: The BFCL schema node.
        where: A human-readable location used in error messages (file and field).

    Returns:
        A new JSON Schema node; the input is not modified.

    Raises:
        ToolDocError: If the node is not a mapping or has an unknown type.
    """
    if not isinstance(schema, Mapping):
        raise ToolDocError(f"{where}: expected an object schema, got {type(schema).__name__}")
    out: dict[str, Any] = {}
    raw_type = schema.get("type")
    if raw_type is not None and raw_type != "any":
        if not isinstance(raw_type, str) or raw_type not in _BFCL_TO_JSON_TYPE:
            raise ToolDocError(f"{where}.type: unknown type {raw_type!r}")
        out["type"] = _BFCL_TO_JSON_TYPE[raw_type]
    description = schema.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise ToolDocError(f"{where}.description: expected a string")
        out["description"] = description
    for keyword in _SCHEMA_KEYWORDS_KEPT:
        if keyword in schema:
            out[keyword] = schema[keyword]
    if "enum" not in out and isinstance(description, str):
        match = _ENUM_IN_DESCRIPTION.search(description)
        if match:
            try:
                values = json.loads(match.group(1))
            except json.JSONDecodeError:
                values = None
            if isinstance(values, list) and values:
                out["enum"] = values
        else:
            bare = _ENUM_LIST_IN_DESCRIPTION.search(description)
            if bare:
                out["enum"] = [value.strip() for value in bare.group(1).split(",")]
    if "properties" in schema:
        properties = schema["properties"]
        if not isinstance(properties, Mapping):
            raise ToolDocError(f"{where}.properties: expected an object")
        out["properties"] = {
            str(name): normalize_schema(sub, f"{where}.properties.{name}")
            for name, sub in properties.items()
        }
        out.setdefault("type", "object")
    if "required" in schema:
        required = schema["required"]
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise ToolDocError(f"{where}.required: expected a list of parameter names")
        known = set(out.get("properties", {}))
        unknown = [r for r in required if r not in known]
        if unknown:
            raise ToolDocError(f"{where}.required: names {unknown} not among the properties")
        out["required"] = list(required)
    if "items" in schema:
        out["items"] = normalize_schema(schema["items"], f"{where}.items")
    if out.get("type") == "array" and "enum" in out and "enum" not in schema:
        # BFCL states the allowed items of a list in the list's description.
        out.setdefault("items", {})["enum"] = out.pop("enum")
    return out


def tool_from_bfcl_doc(
    class_name: str, doc: Mapping[str, Any], source: str, positional_order: tuple[str, ...] = ()
) -> ToolSpec:
    """Build a `ToolSpec` from one BFCL function doc entry.

    Args:
        class_name: Owning environment class.
        doc: The doc entry (`name`, `description`, `parameters`, optional `response`).
        source: Where the doc came from (file path), for error messages.
        positional_order: Parameter order of the method signature, if known.

    Raises:
        ToolDocError: If a required field is missing or malformed.
    """
    name = doc.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ToolDocError(f"{source}: field 'name' must be an identifier, got {name!r}")
    where = f"{source}: tool {name!r}"
    description = doc.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ToolDocError(f"{where}: field 'description' is missing or empty")
    if "parameters" not in doc:
        raise ToolDocError(f"{where}: field 'parameters' is missing")
    parameters = normalize_schema(doc["parameters"], f"{where}: parameters")
    parameters["type"] = "object"
    parameters.setdefault("properties", {})
    parameters.setdefault("required", [])
    returns = normalize_schema(doc["response"], f"{where}: response") if "response" in doc else {}
    order = positional_order or tuple(parameters["properties"])
    return ToolSpec(
        class_name=class_name,
        name=name,
        description=description.strip(),
        parameters=parameters,
        returns=returns,
        bfcl_doc=dict(doc),
        positional_order=order,
    )


def _type_to_bfcl(annotation: Any) -> dict[str, Any]:
    """Map a Python type annotation to a BFCL-vocabulary schema node."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    is_union = origin is not None and str(origin) == "<class 'types.UnionType'>"
    if origin is typing.Union or is_union:
        non_none = [a for a in args if a is not type(None)]
        return _type_to_bfcl(non_none[0]) if len(non_none) == 1 else {"type": "any"}
    if origin is typing.Literal:
        return {"type": "string", "enum": list(args)}
    if annotation in (list, tuple, set) or origin in (list, tuple, set):
        node: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Ellipsis:
            node["items"] = _type_to_bfcl(args[0])
        return node
    if annotation is dict or origin is dict:
        return {"type": "dict"}
    simple = {str: "string", int: "integer", float: "float", bool: "boolean"}
    if annotation in simple:
        return {"type": simple[annotation]}
    return {"type": "any"}


def _parse_docstring(doc: str) -> tuple[str, dict[str, str], str]:
    """Split a Google-style docstring into summary, argument descriptions and returns text."""
    summary_lines: list[str] = []
    args: dict[str, str] = {}
    returns_lines: list[str] = []
    section = "summary"
    current: str | None = None
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        if line in ("Args:", "Arguments:", "Parameters:"):
            section = "args"
            continue
        if line in ("Returns:", "Return:"):
            section = "returns"
            continue
        if line in ("Raises:", "Examples:", "Example:", "Note:", "Notes:"):
            section = "other"
            continue
        if section == "summary" and line:
            summary_lines.append(line)
        elif section == "args" and line:
            match = re.match(r"^(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
            if match and raw.startswith(("    ", "\t")) and not raw.startswith("        "):
                current = match.group(1)
                args[current] = match.group(3).strip()
            elif match and current is None:
                current = match.group(1)
                args[current] = match.group(3).strip()
            elif current:
                args[current] = f"{args[current]} {line}".strip()
        elif section == "returns" and line:
            returns_lines.append(line)
    return " ".join(summary_lines), args, " ".join(returns_lines)


def tool_from_method(class_name: str, method: Callable[..., Any], source: str) -> ToolSpec:
    """Derive a `ToolSpec` from a typed method with a Google-style docstring.

    Args:
        class_name: Owning environment class.
        method: The (unbound) function object.
        source: Where it came from (`module:Class.method`), for error messages.

    Raises:
        ToolDocError: If the method lacks a docstring, a type hint or an argument description.
    """
    name = method.__name__
    where = f"{source}.{name}"
    doc = inspect.getdoc(method)
    if not doc:
        raise ToolDocError(f"{where}: docstring is missing (it becomes the tool description)")
    summary, arg_docs, returns_text = _parse_docstring(doc)
    try:
        hints = typing.get_type_hints(method)
    except Exception as exc:
        raise ToolDocError(f"{where}: type hints cannot be resolved ({exc})") from exc
    properties: dict[str, Any] = {}
    required: list[str] = []
    order: list[str] = []
    for param in list(inspect.signature(method).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDocError(f"{where}: *args/**kwargs cannot be described as a tool")
        if param.name not in hints:
            raise ToolDocError(f"{where}: parameter {param.name!r} has no type hint")
        node = _type_to_bfcl(hints[param.name])
        node["description"] = arg_docs.get(param.name, "")
        if not node["description"]:
            raise ToolDocError(f"{where}: parameter {param.name!r} is not described in 'Args:'")
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif isinstance(param.default, str | int | float | bool):
            node["default"] = param.default
        properties[param.name] = node
        order.append(param.name)
    bfcl_doc = {
        "name": name,
        "description": summary,
        "parameters": {"type": "dict", "properties": properties, "required": required},
        "response": {"type": "dict", "properties": {}, "description": returns_text},
    }
    return tool_from_bfcl_doc(class_name, bfcl_doc, source, tuple(order))


def load_doc_file(path: str, text: str) -> list[dict[str, Any]]:
    """Parse a doc file: a JSON list, or JSON lines (BFCL's layout).

    Raises:
        ToolDocError: With the file name and line on invalid JSON.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            entries = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ToolDocError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    else:
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ToolDocError(f"{path}: line {number}: invalid JSON: {exc.msg}") from exc
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ToolDocError(f"{path}: entry {index} is not an object")
    return entries

