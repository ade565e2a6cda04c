"""The tool registry: every registered environment class and its tools, by name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from funreason_assets.lib.environments import Environment
from funreason_assets.lib.packs import (
    EnvironmentClass,
    PackConfigError,
    load_bfcl_pack,
    load_pack_config,
    load_user_class,
)
from funreason_assets.lib.tools import ToolSpec


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
                    load_user_class(
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
