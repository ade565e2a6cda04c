"""The tool registry: every registered environment class and its tools, by name."""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from funreason_assets.lib.environments import Environment
from funreason_assets.lib.literals import LiteralDomains, merged_literal_domains
from funreason_assets.lib.packs import (
    EnvironmentClass,
    PackConfigError,
    load_bfcl_pack,
    load_pack_config,
    load_user_class,
)
from funreason_assets.lib.tools import ToolSpec
from funreason_assets.lib.type_inference import (
    TypedParameter,
    documented_options,
    parameter_types,
)
from funreason_assets.lib.value_types import VALUE_TYPES, ValueContext


class ToolRegistry:
    """Every registered environment class and its tools."""

    def __init__(
        self,
        classes: Iterable[EnvironmentClass],
        type_overrides: Mapping[str, str] | None = None,
    ):
        """Index the classes; tool names must be unique across classes (BFCL calls are bare).

        Args:
            classes: The environment classes.
            type_overrides: `tool.parameter` -> semantic value type, from the pack configs.
        """
        self.type_overrides = dict(type_overrides or {})
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
        overrides: dict[str, str] = {}
        user_classes: dict[str, str] = {}
        for index, pack in enumerate(config.packs):
            where = f"{path}: field 'packs.{index}'"
            for key, type_name in pack.parameter_types.items():
                if type_name not in VALUE_TYPES:
                    raise PackConfigError(
                        f"{where}.parameter_types.{key}: unknown value type {type_name!r} "
                        f"(known: {', '.join(sorted(VALUE_TYPES))})"
                    )
                overrides[key] = type_name
            if pack.builtin is not None:
                if pack.builtin != "bfcl_v3":
                    raise PackConfigError(f"{where}.builtin: unknown built-in {pack.builtin!r}")
                classes.extend(load_bfcl_pack(pack.name, pack.include))
            for class_index, entry in enumerate(pack.classes):
                classes.append(
                    load_user_class(
                        pack.name, entry, path.parent, f"{where}.classes.{class_index}"
                    )
                )
                user_classes[classes[-1].name] = f"packs.{index}.classes.{class_index}"
        registry = cls(classes, overrides)
        unknown = sorted(
            key for key in overrides
            if key.partition(".")[0] not in registry._owner
            or key.partition(".")[2]
            not in registry.tool(key.partition(".")[0]).parameters.get("properties", {})
        )
        if unknown:
            raise PackConfigError(
                f"{path}: field 'parameter_types.{unknown[0]}': no such tool parameter"
            )
        try:
            registry.value_types()
        except (LookupError, KeyError) as error:
            raise PackConfigError(f"{path}: {error}") from error
        for class_name, entry_field in user_classes.items():
            _check_loads(registry, class_name, path, entry_field)
        return registry

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

    def literal_domains(self) -> LiteralDomains:
        """Values the classes' code accepts per tool parameter (mined once per registry)."""
        return self._literal_domains

    @functools.cached_property
    def _literal_domains(self) -> LiteralDomains:
        return merged_literal_domains(env_class.cls for env_class in self.classes.values())

    def value_types(self) -> dict[str, dict[str, TypedParameter]]:
        """Every tool parameter's semantic value type, with the reason for it."""
        return self._value_types

    @functools.cached_property
    def _value_types(self) -> dict[str, dict[str, TypedParameter]]:
        return parameter_types(
            {tool.name: tool.parameters for tool in self.tools()},
            self.literal_domains().values,
            self.type_overrides,
        )

    def value_type(self, tool_name: str, parameter: str) -> str:
        """The semantic value type of one parameter."""
        return self._value_types[tool_name][parameter].value_type

    def value_context(
        self, tool_name: str, parameter: str, persona: Mapping[str, Any] | None = None
    ) -> ValueContext:
        """What a validator or provider knows about one parameter (and the persona)."""
        base = self._contexts.get((tool_name, parameter))
        if base is None:
            schema = self.tool(tool_name).parameters.get("properties", {}).get(parameter, {})
            mined = self.literal_domains().values.get(tool_name, {}).get(parameter)
            options = documented_options(str(schema.get("description", "")))
            domain = tuple(dict.fromkeys([*sorted(mined or (), key=str), *options])) or None
            base = self._contexts[(tool_name, parameter)] = ValueContext(schema, domain)
        if persona:
            return ValueContext(base.schema, base.domain, persona)
        return base

    @functools.cached_property
    def _contexts(self) -> dict[tuple[str, str], ValueContext]:
        return {}

    def fingerprint(self) -> str:
        """A digest of every class, tool doc and type override: changes when a pack changes."""
        digest = hashlib.sha256()
        digest.update(json.dumps(self.type_overrides, sort_keys=True).encode())
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


def _check_loads(registry: ToolRegistry, class_name: str, path: Path, entry_field: str) -> None:
    """Construct a user class and load one scenario from its generator (or `{}`) into it.

    A class that cannot do this would fail every scenario of every run; failing when the
    registry loads stops the run before any asset is written, naming the config entry.

    Raises:
        PackConfigError: Naming the pack config entry, the class and what raised.
    """
    # Imported here: the scenario generators are built on the registry.
    from funreason_assets.lib.scenarios.generators import class_generator
    from funreason_assets.lib.scenarios.personas import draw_persona

    env_class = registry.classes[class_name]

    def failure(field: str, what: str, error: Exception) -> PackConfigError:
        return PackConfigError(
            f"{path}: field '{entry_field}.{field}': {what} raises {type(error).__name__}: {error}"
        )

    try:
        env_class.cls()
    except Exception as error:
        raise failure("class", f"{class_name}()", error) from error
    config: dict[str, Any] = {}
    if not env_class.stateless:
        rng = random.Random(f"registry-check:{class_name}")
        try:
            config = class_generator(registry, class_name)(rng, draw_persona(rng))
        except Exception as error:
            raise failure("scenario_generator", "the scenario generator", error) from error
    try:
        registry.environment([class_name], {class_name: config})
    except Exception as error:
        scenario = "a generated scenario" if env_class.scenario_generator else "the empty scenario"
        raise failure("class", f"{class_name}._load_scenario on {scenario}", error) from error

