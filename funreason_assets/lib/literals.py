"""Literal domains mined from an environment class's source code.

Simulated tools often accept only values their code knows (`if city == "Rivermist"`, a price
table keyed by `(travel_from, travel_to)`). Reading those constants with `ast` lets the binder
and the sampler call such tools with values they accept, for any pack whose source is
available, without hand-written lists. Nothing is executed: the source is only parsed.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from funreason_assets.lib.packs import public_methods


@dataclass
class LiteralDomains:
    """Accepted values per parameter, and joint values for parameter tuples.

    Attributes:
        values: tool -> parameter -> accepted values (sorted, de-duplicated).
        joint: tool -> list of (parameter names, accepted value tuples).
    """

    values: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    joint: dict[str, list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]] = field(
        default_factory=dict
    )

    def merge(self, other: LiteralDomains) -> LiteralDomains:
        """Union of two domain sets (tools do not overlap across classes)."""
        return LiteralDomains({**self.values, **other.values}, {**self.joint, **other.joint})


def _constant(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float):
        if not isinstance(node.value, bool):
            return node.value
    return None


def _constants(node: ast.AST) -> list[Any]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [value for element in node.elts if (value := _constant(element)) is not None]
    value = _constant(node)
    return [] if value is None else [value]


def _mine_method(method: Any, params: list[str]) -> tuple[dict[str, set], list]:
    try:
        source = textwrap.dedent(inspect.getsource(method))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return {}, []
    param_set = set(params)
    values: dict[str, set] = defaultdict(set)
    dicts: dict[str, ast.Dict] = {}
    lists: dict[str, list[Any]] = {}
    tuples: dict[str, ast.Tuple] = {}
    joint: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    dicts[target.id] = node.value
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Tuple)
            and all(isinstance(e, ast.Name) and e.id in param_set for e in node.value.elts)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    tuples[target.id] = node.value
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
            node.value, ast.List | ast.Tuple | ast.Set
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and _constants(node.value):
                    lists[target.id] = _constants(node.value)
    for node in ast.walk(tree):
        # param == "X", param in ("a", "b"), "X" == param
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = node.left, node.comparators[0]
            for name_node, other in ((left, right), (right, left)):
                if isinstance(name_node, ast.Name) and name_node.id in param_set:
                    if isinstance(node.ops[0], ast.Eq | ast.In | ast.NotEq | ast.NotIn):
                        values[name_node.id].update(_constants(other))
                    if (
                        isinstance(node.ops[0], ast.In | ast.NotIn)
                        and isinstance(other, ast.Name)
                        and other.id in lists
                        and name_node is left
                    ):
                        values[name_node.id].update(lists[other.id])
                    if (
                        isinstance(node.ops[0], ast.In | ast.NotIn)
                        and isinstance(other, ast.Name)
                        and other.id in dicts
                        and name_node is left
                    ):
                        values[name_node.id].update(
                            v for key in dicts[other.id].keys if key is not None
                            if (v := _constant(key)) is not None
                        )
        # (a, b) in table
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In)
            and (
                isinstance(node.left, ast.Tuple)
                or (isinstance(node.left, ast.Name) and node.left.id in tuples)
            )
            and isinstance(node.comparators[0], ast.Name)
            and node.comparators[0].id in dicts
        ):
            key_tuple = node.left if isinstance(node.left, ast.Tuple) else tuples[node.left.id]
            lookup_tuple: tuple[str, ast.AST] | None = (node.comparators[0].id, key_tuple)
        else:
            lookup_tuple = None
        # table.get(param) / table[param]
        lookup = lookup_tuple
        if lookup is not None:
            pass
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.args
        ):
            lookup = (node.func.value.id, node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            lookup = (node.value.id, node.slice)
        if lookup and lookup[0] in dicts:
            table, key_node = dicts[lookup[0]], lookup[1]
            if isinstance(key_node, ast.Name) and key_node.id in param_set:
                values[key_node.id].update(
                    v for key in table.keys if key is not None
                    if (v := _constant(key)) is not None
                )
            elif isinstance(key_node, ast.Tuple) and all(
                isinstance(e, ast.Name) and e.id in param_set for e in key_node.elts
            ):
                names = tuple(e.id for e in key_node.elts)  # type: ignore[attr-defined]
                rows = [
                    tuple(_constants(key))
                    for key in table.keys
                    if isinstance(key, ast.Tuple) and len(_constants(key)) == len(names)
                ]
                if rows:
                    joint.append((names, rows))
                    for index, name in enumerate(names):
                        values[name].update(row[index] for row in rows)
        # (a == "x" and b == "y") or (...): joint values of two parameters
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            pairs: dict[str, Any] = {}
            for value in node.values:
                if (
                    isinstance(value, ast.Compare)
                    and len(value.ops) == 1
                    and isinstance(value.ops[0], ast.Eq)
                    and isinstance(value.left, ast.Name)
                    and value.left.id in param_set
                    and _constant(value.comparators[0]) is not None
                ):
                    pairs[value.left.id] = _constant(value.comparators[0])
            if len(pairs) >= 2:
                names = tuple(sorted(pairs))
                joint.append((names, [tuple(pairs[name] for name in names)]))
    return values, joint


def _internal_calls(method: Any, params: list[str]) -> list[tuple[str, dict[str, str]]]:
    """`self.other(...)` calls passing this method's parameters: (callee, callee param -> ours)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    except (OSError, TypeError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self"
        ):
            mapping: dict[str, str] = {}
            for index, arg in enumerate(node.args):
                if isinstance(arg, ast.Name) and arg.id in params:
                    mapping[f"#{index}"] = arg.id
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Name) and keyword.value.id in params:
                    mapping[str(keyword.arg)] = keyword.value.id
            if mapping:
                found.append((node.func.attr, mapping))
    return found


def mine_literal_domains(cls: type) -> LiteralDomains:
    """Mine accepted literal values for every public method of a class.

    Values a method accepts through an internal call (`self.get_flight_cost(travel_from, ...)`)
    are inherited from the callee.
    """
    domains = LiteralDomains()
    methods = public_methods(cls)
    for name, method in methods.items():
        params = list(inspect.signature(method).parameters)[1:]
        values, joint = _mine_method(method, params)
        if values:
            domains.values[name] = {
                param: sorted(found, key=lambda v: (str(type(v)), v))
                for param, found in values.items()
                if found
            }
        if joint:
            merged: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
            for names, rows in joint:
                merged[names].extend(row for row in rows if row not in merged[names])
            domains.joint[name] = sorted(merged.items())
    for name, method in methods.items():
        params = list(inspect.signature(method).parameters)[1:]
        for callee, mapping in _internal_calls(method, params):
            if callee not in methods:
                continue
            callee_params = list(inspect.signature(methods[callee]).parameters)[1:]
            ours = {
                (callee_params[int(key[1:])] if key.startswith("#") else key): param
                for key, param in mapping.items()
                if not key.startswith("#") or int(key[1:]) < len(callee_params)
            }
            for callee_param, value_list in domains.values.get(callee, {}).items():
                if callee_param in ours:
                    target = domains.values.setdefault(name, {})
                    target.setdefault(ours[callee_param], value_list)
            for names, rows in domains.joint.get(callee, []):
                if all(n in ours for n in names):
                    translated = tuple(ours[n] for n in names)
                    existing = domains.joint.setdefault(name, [])
                    if all(existing_names != translated for existing_names, _ in existing):
                        existing.append((translated, rows))
    return domains


def merged_literal_domains(classes: Iterable[type]) -> LiteralDomains:
    """The literal domains of several classes, merged (as the graph probe and sampler use)."""
    literals = LiteralDomains()
    for cls in classes:
        literals = literals.merge(mine_literal_domains(cls))
    return literals
