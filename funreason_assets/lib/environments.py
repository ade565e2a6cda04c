"""Executable environment packs, the tool registry, and live environment instances.

An environment pack is one or more stateful Python classes plus their function docs (and,
optionally, a scenario generator). The built-in pack is the eight BFCL v3 multi-turn classes
from `bfcl-eval`. Users register their own pack in the pack config file, either with a JSON doc
file beside the class or with a class whose typed methods and docstrings yield the docs.
"""

from __future__ import annotations

import abc
import copy
import copyreg
import functools
import hashlib
import importlib
import inspect
import io
import json
import math
import pickle
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
        description="Import path `module:function` of `(random.Random) -> dict` initial configs.",
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


class PackConfig(BaseModel):
    """The environment pack config file."""

    model_config = ConfigDict(extra="forbid")

    packs: list[PackEntry]


@dataclass
class EnvironmentClass:
    """A registered environment class with its tools."""

    name: str
    pack: str
    cls: type
    tools: dict[str, ToolSpec]
    stateless: bool
    scenario_generator: Callable[[random.Random], dict] | None = None
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


def _load_user_class(pack: str, entry: ClassEntry, base_dir: Path, where: str) -> EnvironmentClass:
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


class ToolRegistry:
    """Every registered environment class and its tools."""

    def __init__(self, classes: Iterable[EnvironmentClass]):
        """Index the classes; tool names must be unique across classes (BFCL calls are bare)."""
        self.classes: dict[str, EnvironmentClass] = {}
        owner: dict[str, str] = {}
        for env_class in classes:
            if env_class.name in self.classes:
                raise PackConfigError(
                    f"pack {env_class.pack!r}: class {env_class.name} is registered twice"
                )
            for tool_name in env_class.tools:
                if tool_name in owner:
                    raise PackConfigError(
                        f"pack {env_class.pack!r}: tool {tool_name!r} of {env_class.name} "
                        f"clashes with the tool of the same name in {owner[tool_name]}"
                    )
                owner[tool_name] = env_class.name
            self.classes[env_class.name] = env_class
        self._owner = owner

    @classmethod
    def from_config(cls, path: Path) -> ToolRegistry:
        """Build the registry from a pack config file."""
        config = load_pack_config(path)
        classes: list[EnvironmentClass] = []
        for index, pack in enumerate(config.packs):
            where = f"{path}: field 'packs.{index}'"
            if pack.builtin is not None:
                if pack.builtin != "bfcl_v3":
                    raise PackConfigError(f"{where}.builtin: unknown built-in {pack.builtin!r}")
                classes.extend(load_bfcl_pack(pack.name, pack.include))
            for class_index, entry in enumerate(pack.classes):
                classes.append(
                    _load_user_class(
                        pack.name, entry, path.parent, f"{where}.classes.{class_index}"
                    )
                )
        return cls(classes)

    @classmethod
    def builtin(cls) -> ToolRegistry:
        """The registry of the built-in BFCL v3 pack only."""
        return cls(load_bfcl_pack())

    def tools(self, class_names: Iterable[str] | None = None) -> list[ToolSpec]:
        """Tools of the given classes (all classes when None), in a stable order."""
        names = list(class_names) if class_names is not None else list(self.classes)
        return [tool for name in names for tool in self.classes[name].tools.values()]

    def tool(self, name: str) -> ToolSpec:
        """Look a tool up by its bare name."""
        return self.classes[self._owner[name]].tools[name]

    def owner(self, tool_name: str) -> str | None:
        """The class that owns a tool name, or None."""
        return self._owner.get(tool_name)

    def fingerprint(self) -> str:
        """A digest of every class and tool doc: changes when a pack changes."""
        digest = hashlib.sha256()
        for name in sorted(self.classes):
            env_class = self.classes[name]
            digest.update(f"{name}|{env_class.pack}|{env_class.stateless}".encode())
            for tool_name in sorted(env_class.tools):
                doc = env_class.tools[tool_name].bfcl_doc
                digest.update(json.dumps(doc, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def environment(
        self,
        involved_classes: Sequence[str],
        initial_config: Mapping[str, Mapping[str, Any]],
        long_context: bool = False,
    ) -> Environment:
        """Instantiate the involved classes from an initial config."""
        return Environment(self, involved_classes, initial_config, long_context)


_PLAIN = frozenset({str, int, bool, type(None)})
# Exact types of live objects (a directory, a file), mapped to the `abc.get_cache_token()` at
# the time they were classified. Whether a value is a number, string, mapping, sequence or
# set depends on its type alone when its `__class__` is its type, and an ABC registration
# changes the token; the checks are then skipped for the thousands of objects in a state.
_OBJECT_KINDS: dict[type, object] = {}


def to_jsonable(value: Any, _stack: tuple[int, ...] = ()) -> Any:
    """Convert environment state to plain JSON types, deterministically.

    Objects become their public attributes; sets become sorted lists; back references to an
    enclosing object (e.g. a directory's `parent`) are dropped to keep the result a tree.
    """
    # Digests convert the whole state after every round: plain values inside containers are
    # copied inline, by exact type, instead of through a call each.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {
            (k if type(k) is str else str(k)): (
                v if type(v) in _PLAIN else to_jsonable(v, _stack)
            )
            for k, v in value.items()
        }
    if kind is list:
        return [v if type(v) in _PLAIN else to_jsonable(v, _stack) for v in value]
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if _OBJECT_KINDS.get(kind) != abc.get_cache_token() or value.__class__ is not kind:
        if isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Mapping):
            return {str(k): to_jsonable(v, _stack) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [to_jsonable(v, _stack) for v in value]
        if isinstance(value, set | frozenset):
            return sorted((to_jsonable(v, _stack) for v in value), key=json.dumps)
        if value.__class__ is kind:
            _OBJECT_KINDS[kind] = abc.get_cache_token()
    if hasattr(value, "__dict__") and not callable(value):
        if id(value) in _stack:
            return None
        inner = (*_stack, id(value))
        public: dict[str, Any] = {}
        for k, v in vars(value).items():
            if k.startswith("_"):
                continue
            if type(v) in _PLAIN:
                public[k] = v
            elif not (hasattr(v, "__dict__") and id(v) in inner):
                public[k] = to_jsonable(v, inner)
        return public
    return str(value)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(state: Any) -> str:
    """The canonical text of a JSON-able value (sorted keys, no spaces) that digests hash."""
    return _CANONICAL.encode(state)


def state_digest(state: Mapping[str, Any]) -> str:
    """A short stable digest of a JSON-able state."""
    return _digest_text(canonical_json(state))


def _digest_text(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def diff_states(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON-able states (empty when equal)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                out.append(f"{sub}: missing")
            elif key not in expected:
                out.append(f"{sub}: unexpected")
            else:
                out.extend(diff_states(expected[key], actual[key], sub))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            out.extend(diff_states(left, right, f"{path}[{index}]"))
        return out
    if expected != actual:
        return [f"{path}: expected {_short(expected)}, got {_short(actual)}"]
    return []


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _generator_slot(index: int) -> Any:
    """Stands in for a random generator in pickled state (see `_Pickled`)."""
    raise pickle.UnpicklingError("a generator slot needs the generator states of its payload")


@dataclass(frozen=True)
class _Pickled:
    """Pickled state, with the state of each `random.Random` in it kept aside as a tuple.

    Pickling a generator the default way serialises its 625 state words one by one and, on
    load, re-creates it through `Random()`, which first seeds it from the OS: for classes that
    hold a generator that is most of the cost of every snapshot and restore. `getstate()`
    returns an immutable tuple, so it is kept as is and put back with `setstate()`.
    """

    data: bytes
    generators: tuple[Any, ...] = ()

    @classmethod
    def of(cls, value: Any) -> _Pickled:
        """Pickle a value."""
        generators: list[Any] = []

        def set_aside(generator: random.Random) -> tuple[Any, ...]:
            generators.append(generator.getstate())
            return _generator_slot, (len(generators) - 1,)

        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
        # Keyed by exact type: a subclass of Random keeps its own reduction.
        pickler.dispatch_table = {**copyreg.dispatch_table, random.Random: set_aside}
        pickler.dump(value)
        return cls(buffer.getvalue(), tuple(generators))

    def load(self) -> Any:
        """A fresh copy of the pickled value."""
        if not self.generators:
            return pickle.loads(self.data)
        return _StateUnpickler(self).load()


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, pickled: _Pickled):
        super().__init__(io.BytesIO(pickled.data))
        # Not a bound method: the unpickler memoises what `find_class` returns, and a
        # reference back to itself would make every restore leave a cycle for the collector.
        self._rebuild = functools.partial(_rebuild_generator, pickled.generators)

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == _generator_slot.__name__:
            return self._rebuild
        return super().find_class(module, name)


def _rebuild_generator(states: tuple[Any, ...], index: int) -> random.Random:
    generator = random.Random.__new__(random.Random)
    generator.setstate(states[index])
    return generator


def _copy_data(value: Any) -> Any:
    """A deep copy of scenario data (a pickle round trip: much faster than `deepcopy`)."""
    try:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(value)


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """An exact copy of involved instances' attributes (including private RNG state).

    Stored pickled, one payload per class: one `dumps` to take and one `loads` to restore is
    several times faster than `deepcopy` for these object graphs, and the bytes are immutable,
    so a snapshot can be restored any number of times. Classes are pickled separately (their
    instances share no objects) so that a caller can reuse the copy of a class whose state has
    not changed instead of pickling it again.
    """

    payloads: tuple[tuple[str, _Pickled], ...]

    def parts(self) -> dict[str, EnvironmentSnapshot]:
        """One snapshot per class."""
        return {name: EnvironmentSnapshot(((name, payload),)) for name, payload in self.payloads}

    @classmethod
    def combine(cls, snapshots: Iterable[EnvironmentSnapshot]) -> EnvironmentSnapshot:
        """One snapshot restoring every class of the given ones (later ones win)."""
        merged: dict[str, _Pickled] = {}
        for snapshot in snapshots:
            merged.update(snapshot.payloads)
        return cls(tuple(merged.items()))


@dataclass
class Environment:
    """Live instances of the involved classes, loaded from one initial config."""

    registry: ToolRegistry
    involved_classes: Sequence[str]
    initial_config: Mapping[str, Mapping[str, Any]]
    long_context: bool = False
    instances: dict[str, Any] = field(init=False)
    methods: dict[str, tuple[Callable[..., Any], ToolSpec]] = field(init=False)
    mutable_defaults: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.involved_classes = list(self.involved_classes)
        self.instances = {}
        self.methods = {}
        self.mutable_defaults = {}
        for class_name in self.involved_classes:
            env_class = self.registry.classes.get(class_name)
            if env_class is None:
                raise PackConfigError(f"initial config: unknown class {class_name!r}")
            instance = env_class.cls()
            if not env_class.stateless:
                config = self.initial_config.get(class_name, {})
                instance._load_scenario(_copy_data(dict(config)), long_context=self.long_context)
                # Some classes load module-level objects by reference (BFCL's long-context
                # card and booking extensions); a tool mutating them would leak into every
                # later instance in the process. Give the instance private copies.
                private = _Pickled.of(vars(instance)).load()
                vars(instance).clear()
                vars(instance).update(private)
            self.instances[class_name] = instance
            self.mutable_defaults.update(env_class.mutable_defaults)
            for tool_name, tool in env_class.tools.items():
                self.methods[tool_name] = (getattr(instance, tool_name), tool)

    @property
    def tools(self) -> list[ToolSpec]:
        """The tools callable in this environment."""
        return [tool for _, tool in self.methods.values()]

    def snapshot(self, classes: Iterable[str] | None = None) -> EnvironmentSnapshot:
        """Copy the state (of all classes, or only the named ones) so it can be restored."""
        names = self.instances if classes is None else classes
        return EnvironmentSnapshot(
            tuple((name, _Pickled.of(vars(self.instances[name]))) for name in names)
        )

    def restore(self, snapshot: EnvironmentSnapshot) -> None:
        """Restore a snapshot in place (the snapshot stays reusable)."""
        for name, payload in snapshot.payloads:
            saved = payload.load()
            current = vars(self.instances[name])
            current.clear()
            current.update(saved)

    def class_state(self, class_name: str) -> Any:
        """Public state of one involved class as JSON-able data."""
        return to_jsonable(self.instances[class_name])

    def fork(self) -> Environment:
        """An independent copy of this environment in its current state (a sandbox)."""
        clone = copy.copy(self)
        clone.instances = {}
        clone.methods = {}
        for name, instance in self.instances.items():
            twin = object.__new__(type(instance))
            vars(twin).update(copy.deepcopy(vars(instance)))
            clone.instances[name] = twin
            for tool_name, tool in self.registry.classes[name].tools.items():
                clone.methods[tool_name] = (getattr(twin, tool_name), tool)
        return clone

    def state(self) -> dict[str, Any]:
        """Public state of every stateful involved class as JSON-able data."""
        return {
            name: to_jsonable(instance)
            for name, instance in self.instances.items()
            if not self.registry.classes[name].stateless
        }

    def digest(self, memo: dict[str, str] | None = None) -> str:
        """Digest of `state()`.

        Args:
            memo: Canonical JSON of each stateful class's state, for a caller that knows which
                classes a call may have changed: entries present are used as they are, missing
                ones are computed and stored. The caller must drop a class's entry whenever
                that class's state may have changed. Without a memo every class is converted.
        """
        if memo is None:
            return state_digest(self.state())
        # `canonical_json` of the whole state is `{"<class>":<class text>,...}` in sorted key
        # order, so it can be assembled from per-class texts.
        parts = []
        for name in sorted(self.instances):
            if self.registry.classes[name].stateless:
                continue
            text = memo.get(name)
            if text is None:
                text = memo[name] = canonical_json(to_jsonable(self.instances[name]))
            parts.append(f"{json.dumps(name)}:{text}")
        return _digest_text("{" + ",".join(parts) + "}")

    def diff(self, other: Environment) -> list[str]:
        """Differences between this (expected) environment's state and another's."""
        return diff_states(self.state(), other.state())
