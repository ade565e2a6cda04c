"""Argument binding: candidate pools rank exactly as scoring every related source would."""

import random

from funreason_assets.lib.binding import (
    ArgumentBinder,
    SourcePool,
    class_sources,
    param_profiles,
    state_sources,
)
from funreason_assets.lib.scenarios.generators import generate_scenario, shard_seeds


def described(ranked):
    return [(score, source.value, source.path) for score, source in ranked]


def test_pool_ranking_matches_scoring_each_related_source(registry):
    binder = ArgumentBinder(random.Random(0), registry)
    checked = 0
    for seed in shard_seeds("binding-test", 6, 3):
        scenario = generate_scenario(seed, sorted(registry.classes), 2, 3)
        environment = registry.environment(scenario.involved_classes, scenario.initial_config)
        state = environment.state()
        union = SourcePool.union(
            [SourcePool(class_sources(name, class_state)) for name, class_state in state.items()]
        )
        merged = SourcePool(state_sources(state))
        assert len(union) == len(merged)
        for tool in registry.tools(scenario.involved_classes):
            for profile in param_profiles(tool):
                typed = binder.typed(tool.name, profile.name)
                ranked = binder._rank(profile, merged.related(profile), typed)
                expected = described(binder._keep_valid(ranked, typed))
                assert described(binder.candidates(profile, union, typed)) == expected
                assert described(binder.candidates(profile, merged, typed)) == expected
                checked += bool(expected)
        copied = union.copy()
        copied.extend(class_sources("Extra", {"name": "x"}))
        assert len(copied) == len(union) + 1
    assert checked > 20
