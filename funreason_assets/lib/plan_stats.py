"""Distributions and coverage of ground-truth plans (metadata, reports, the baseline table)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from funreason_assets.lib.records import DialoguePlan
from funreason_assets.lib.sampler import plan_fingerprint


def _histogram(values: Iterable[int]) -> dict[str, int]:
    counts = Counter(values)
    return {str(key): counts[key] for key in sorted(counts)}


def plan_distributions(plans: Sequence[DialoguePlan]) -> dict[str, Any]:
    """Rounds per dialogue, calls per round, dependency depth and variants."""
    rounds = [planned for plan in plans for planned in plan.rounds]
    return {
        "dialogues": len(plans),
        "rounds": len(rounds),
        "rounds_per_dialogue": _histogram(len(plan.rounds) for plan in plans),
        "calls_per_round": _histogram(len(planned.executed_calls()) for planned in rounds),
        "dependency_depth": _histogram(planned.dependency_depth for planned in rounds),
        "variants": dict(Counter(planned.variant for planned in rounds).most_common()),
        "long_context_dialogues": sum(1 for plan in plans if plan.long_context),
    }


def coverage(plans: Sequence[DialoguePlan], tools: Sequence[str]) -> dict[str, Any]:
    """Share of the given tools ever reached, and mean dependency depth per round."""
    reached = {
        call.tool
        for plan in plans
        for planned in plan.rounds
        for call in planned.executed_calls()
    }
    rounds = [planned for plan in plans for planned in plan.rounds]
    depth = [planned.dependency_depth for planned in rounds]
    universe = set(tools)
    return {
        "tools": len(universe),
        "tools_reached": len(reached & universe),
        "share_reached": round(len(reached & universe) / len(universe), 4) if universe else 0.0,
        "mean_depth": round(sum(depth) / len(depth), 3) if depth else 0.0,
        "share_rounds_depth_2_plus": (
            round(sum(1 for d in depth if d >= 2) / len(depth), 4) if depth else 0.0
        ),
        "dialogues": len(plans),
    }


def target_counts(plans: Sequence[DialoguePlan]) -> Counter[str]:
    """How often each tool was a round's target."""
    return Counter(planned.target for plan in plans for planned in plan.rounds)


def duplicate_share(plans: Sequence[DialoguePlan]) -> tuple[float, int]:
    """Share and count of plans whose calls and arguments repeat an earlier plan."""
    seen: set[str] = set()
    duplicates = 0
    for plan in plans:
        fingerprint = plan_fingerprint(plan)
        if fingerprint in seen:
            duplicates += 1
        seen.add(fingerprint)
    return (duplicates / len(plans) if plans else 0.0), duplicates


def coverage_figure(directed: dict[str, Any], random_walk: dict[str, Any]) -> Any:
    """Bar chart comparing the directed sampler with the random-walk baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["share_reached", "mean_depth", "share_rounds_depth_2_plus"]
    labels = ["share of tools reached", "mean dependency depth", "rounds with depth >= 2"]
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for axis, metric, label in zip(axes, metrics, labels, strict=True):
        values = [directed[metric], random_walk[metric]]
        bars = axis.bar(["directed", "random walk"], values, color=["#1f77b4", "#999999"])
        axis.bar_label(bars, fmt="%.2f", fontsize=8)
        axis.set_title(label, fontsize=9)
    figure.suptitle("Directed sampler vs random-walk baseline (same seeds)", fontsize=10)
    figure.tight_layout()
    return figure
