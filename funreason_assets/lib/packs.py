"""Environment packs: loading the built-in and user packs into environment classes.

An environment pack is one or more stateful Python classes plus their function docs (and,
optionally, a scenario generator). The built-in pack is the eight BFCL v3 multi-turn classes
from `bfcl-eval`. Users register their own pack in the pack config file, either with a JSON doc
file beside the class or with a class whose typed methods and docstrings yield the docs.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from funreason_assets.lib.tools import (
    ToolDocError,
    ToolSpec,
    load_doc_file,
    tool_from_bfcl_doc,
    tool_from_method,
)

BFCL_BACKEND = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
BFCL_V3_CLASSES: dict[str, tuple[str, str]] = {
    # class name -> (module under BFCL_BACKEND, doc file under bfcl_eval/data/multi_turn_func_doc)
    "GorillaFileSystem": ("gorilla_file_system", "gorilla_file_system.json"),
    "MathAPI": ("math_api", "math_api.json"),
    "MessageAPI": ("message_api", "message_api.json"),
    "TwitterAPI": ("posting_api", "posting_api.json"),
    "TicketAPI": ("ticket_api", "ticket_api.json"),
    "TradingBot": ("trading_bot", "trading_bot.json"),
    "TravelAPI": ("travel_booking", "travel_booking.json"),
    "VehicleControlAPI": ("vehicle_control", "vehicle_control.json"),
}
BFCL_STATELESS = frozenset({"MathAPI"})

# Arguments that make a built-in tool compute for unbounded time inside C code (where no
# timeout can interrupt it) are bounded in the schema the executor enforces.
BFCL_SCHEMA_BOUNDS: dict[str, dict[str, dict[str, float]]] = {
    "power": {"exponent": {"minimum": -1024, "maximum": 1024}},
    "square_root": {"precision": {"minimum": 0, "maximum": 1000}},
    "logarithm": {"precision": {"minimum": 0, "maximum": 1000}},
    "round_number": {"decimal_places": {"minimum": -100, "maximum": 100}},
}


class PackConfigError(ValueError):
    """An environment pack config, class or doc is malformed (the message names file and field)."""


class ClassEntry(BaseModel):
    """One environment class in a user pack config."""

    model_config = ConfigDict(extra="forbid")

    class_path: str = Field(alias="class", description="Import path `package.module:ClassName`.")
    docs: str | None = Field(
        default=None,
        description="JSON (list or JSON lines) function docs, relative to the config file. "
        "When absent, docs are derived from the class's typed public methods and docstrings.",
    )
    stateless: bool = Field(default=False, description="True if the class has no scenario state.")
    scenario_generator: str | None = Field(
        default=None,
        description="Import path `module:function` of `(random.Random) -> dict` initial configs; "
        "a function with a second `persona` parameter also gets the scenario's persona (a dict).",
    )


class PackEntry(BaseModel):
    """One pack in the pack config: either the built-in BFCL pack or user classes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    builtin: str | None = Field(default=None, description="`bfcl_v3` for the built-in pack.")
    classes: list[ClassEntry] = Field(default_factory=list)
    include: list[str] | None = Field(
        default=None, description="Restrict the built-in pack to these class names."
    )
    parameter_types: dict[str, str] = Field(
        default_factory=dict,
        description="`tool.parameter: value type` overrides of the inferred semantic types "
        "(see lib/value_types.py for the vocabulary).",
    )

    @model_validator(mode="after")
    def _has_classes(self) -> PackEntry:
        if self.builtin is None and not self.classes:
            raise PydanticCustomError(
                "empty_pack", "pack {name} names no classes: set `builtin` or `classes`",
                {"name": repr(self.name)},
            )
        return self


class PackConfig(BaseModel):
    """The environment pack config file."""

    model_config = ConfigDict(extra="forbid")

    packs: list[PackEntry]

    @field_validator("packs")
    @classmethod
    def _not_empty(cls, packs: list[PackEntry]) -> list[PackEntry]:
        if not packs:
            raise PydanticCustomError(
                "no_packs",
                "no environment pack is configured; list at least one (the built-in one is "
                "`- name: bfcl_v3` with `builtin: bfcl_v3`)",
            )
        return packs


@dataclass
class EnvironmentClass:
    """A registered environment class with its tools."""

    name: str
    pack: str
    cls: type
    tools: dict[str, ToolSpec]
    stateless: bool
    # `(rng) -> dict`, or `(rng, persona dict) -> dict` (see scenario_sources.pack_generator).
    scenario_generator: Callable[..., dict] | None = None
    source: str = ""
    mutable_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Python evaluates a `def f(tags=[])` default once: a tool that mutates it leaks state
        # across calls and instances (BFCL's `post_tweet` does). Omitted arguments with such
        # defaults are passed as fresh copies of the documented default instead.
        for tool_name in self.tools:
            method = getattr(self.cls, tool_name)
            schema = self.tools[tool_name].parameters.get("properties", {})
            for param in list(inspect.signature(method).parameters.values())[1:]:
                if isinstance(param.default, list | dict | set):
                    documented = schema.get(param.name, {}).get("default")
                    pristine = documented if documented is not None else type(param.default)()
                    self.mutable_defaults.setdefault(tool_name, {})[param.name] = pristine


def _import_object(path: str, where: str) -> Any:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise PackConfigError(f"{where}: expected `module:attribute`, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PackConfigError(f"{where}: cannot import module {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise PackConfigError(f"{where}: module {module_name!r} has no {attribute!r}") from exc


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """The public methods of a class, which are exactly its tools."""
    return {
        name: member
        for name, member in inspect.getmembers(cls, predicate=inspect.isfunction)
        if not name.startswith("_")
    }


def _bind_docs(
    class_name: str, cls: type, docs: Iterable[Mapping[str, Any]], source: str
) -> dict[str, ToolSpec]:
    methods = public_methods(cls)
    tools: dict[str, ToolSpec] = {}
    for index, doc in enumerate(docs):
        name = doc.get("name")
        if name not in methods:
            raise PackConfigError(
                f"{source}: entry {index} field 'name': {name!r} is not a public method of "
                f"{class_name}"
            )
        if name in tools:
            raise PackConfigError(f"{source}: entry {index} field 'name': {name!r} is duplicated")
        order = tuple(list(inspect.signature(methods[name]).parameters)[1:])
        try:
            tools[name] = tool_from_bfcl_doc(class_name, doc, source, order)
        except ToolDocError as exc:
            raise PackConfigError(str(exc)) from exc
    return tools


def _apply_bounds(tool: ToolSpec, bounds: Mapping[str, Mapping[str, float]]) -> ToolSpec:
    parameters = copy.deepcopy(tool.parameters)
    for param, constraint in bounds.items():
        if param in parameters["properties"]:
            parameters["properties"][param].update(constraint)
    return tool.model_copy(update={"parameters": parameters})


def load_bfcl_pack(
    name: str = "bfcl_v3", include: Sequence[str] | None = None
) -> list[EnvironmentClass]:
    """Load the built-in BFCL v3 multi-turn classes and their function docs from bfcl-eval."""
    import funreason_assets  # noqa: F401  (sets BFCL_PROJECT_ROOT before bfcl_eval imports)

    selected = list(include) if include else list(BFCL_V3_CLASSES)
    unknown = sorted(set(selected) - set(BFCL_V3_CLASSES))
    if unknown:
        raise PackConfigError(f"pack {name!r} field 'include': unknown BFCL classes {unknown}")
    doc_root = resources.files("bfcl_eval") / "data" / "multi_turn_func_doc"
    classes = []
    for class_name in selected:
        module_name, doc_file = BFCL_V3_CLASSES[class_name]
        cls = _import_object(f"{BFCL_BACKEND}.{module_name}:{class_name}", f"pack {name!r}")
        source = f"bfcl_eval/data/multi_turn_func_doc/{doc_file}"
        docs = load_doc_file(source, (doc_root / doc_file).read_text(encoding="utf-8"))
        tools = _bind_docs(class_name, cls, docs, source)
        tools = {
            tool_name: _apply_bounds(tool, BFCL_SCHEMA_BOUNDS.get(tool_name, {}))
            for tool_name, tool in tools.items()
        }
        classes.append(
            EnvironmentClass(
                name=class_name,
                pack=name,
                cls=cls,
                tools=tools,
                stateless=class_name in BFCL_STATELESS,
                source=source,
            )
        )
    return classes


def load_user_class(pack: str, entry: ClassEntry, base_dir: Path, where: str) -> EnvironmentClass:
    """One user class of a pack config entry, with its tools and scenario generator.

    Raises:
        PackConfigError: Naming the config field (`where`) that is wrong.
    """
    cls = _import_object(entry.class_path, f"{where} field 'class'")
    if not inspect.isclass(cls):
        raise PackConfigError(f"{where} field 'class': {entry.class_path!r} is not a class")
    class_name = cls.__name__
    if not entry.stateless and not callable(getattr(cls, "_load_scenario", None)):
        raise PackConfigError(
            f"{where} field 'class': stateful class {class_name} must define "
            "`_load_scenario(config, long_context=False)` (or set stateless: true)"
        )
    if entry.docs:
        doc_path = (base_dir / entry.docs).resolve()
        if not doc_path.is_file():
            raise PackConfigError(f"{where} field 'docs': file {entry.docs!r} does not exist")
        try:
            docs = load_doc_file(str(doc_path), doc_path.read_text(encoding="utf-8"))
        except ToolDocError as exc:
            raise PackConfigError(str(exc)) from exc
        tools = _bind_docs(class_name, cls, docs, str(doc_path))
    else:
        source = entry.class_path.replace(":", ".")
        try:
            tools = {
                method_name: tool_from_method(class_name, method, source)
                for method_name, method in public_methods(cls).items()
            }
        except ToolDocError as exc:
            raise PackConfigError(str(exc)) from exc
    if not tools:
        raise PackConfigError(f"{where} field 'class': {class_name} has no public tools")
    generator = None
    if entry.scenario_generator:
        generator = _import_object(entry.scenario_generator, f"{where} field 'scenario_generator'")
        if not callable(generator):
            raise PackConfigError(f"{where} field 'scenario_generator': not callable")
    return EnvironmentClass(
        name=class_name,
        pack=pack,
        cls=cls,
        tools=tools,
        stateless=entry.stateless,
        scenario_generator=generator,
        source=entry.class_path,
    )


def load_pack_config(path: Path) -> PackConfig:
    """Read and validate a pack config file (JSON or YAML).

    Raises:
        PackConfigError: Naming the file and the offending field.
    """
    if not path.is_file():
        raise PackConfigError(f"{path}: pack config file does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as exc:
        raise PackConfigError(f"{path}: cannot parse ({exc})") from exc
    try:
        return PackConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_path = ".".join(str(part) for part in first["loc"])
        raise PackConfigError(f"{path}: field '{field_path}': {first['msg']}") from exc
