"""Live environment instances: the involved classes loaded from one initial config.

An `Environment` holds live instances and their bound tools, and can snapshot, restore and fork
its state; snapshots are pickled payloads that can be restored any number of times.
"""

from __future__ import annotations

import copy
import copyreg
import functools
import io
import json
import pickle
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from funreason_assets.lib.digests import canonical_json
from funreason_assets.lib.packs import PackConfigError
from funreason_assets.lib.state import diff_states, digest_text, state_digest, to_jsonable
from funreason_assets.lib.tools import ToolSpec

if TYPE_CHECKING:
    # Annotation only: the registry builds environments, so it imports this module at runtime.
    from funreason_assets.lib.registry import ToolRegistry


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


# Where a class keeps its position in private attributes: part of its state all the same
# (the file system's working directory decides what `cat report.txt` reads).
_POSITION_ATTRIBUTES = ("_current_dir",)


def _position_path(node: Any) -> str:
    names = []
    seen: set[int] = set()
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        names.append(str(getattr(node, "name", "")))
        node = getattr(node, "parent", None)
    return "/" + "/".join(reversed(names))


def observable_state(instance: Any) -> Any:
    """A class instance's public state, plus the position it keeps privately.

    Public attributes as JSON-able data; a private current position (`_current_dir`) is added
    as its path under `_position`, so a call that only moves (`cd`) changes the state, the
    graph sees what it enables, and verification compares where a dialogue ends up.
    """
    state = to_jsonable(instance)
    if isinstance(state, dict):
        for name in _POSITION_ATTRIBUTES:
            node = vars(instance).get(name)
            if node is not None and hasattr(node, "parent"):
                state = {**state, "_position": _position_path(node)}
    return state


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
        return observable_state(self.instances[class_name])

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
            name: observable_state(instance)
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
                text = memo[name] = canonical_json(observable_state(self.instances[name]))
            parts.append(f"{json.dumps(name)}:{text}")
        return digest_text("{" + ",".join(parts) + "}")

    def diff(self, other: Environment) -> list[str]:
        """Differences between this (expected) environment's state and another's."""
        return diff_states(self.state(), other.state())
