"""Reasoning phase (METHOD.md Phase III): the guided iterative chain per round."""


from collections import Counter

import dagster as dg

from funreason_assets.defs.environments.resources import EnvironmentPacksResource
from funreason_assets.defs.metadata import markdown_table
from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.defs.partitions import shard_partitions
from funreason_assets.lib.reasoning import LEAKAGE, chain_stats, run_chains
from funreason_assets.lib.records import DialoguePlan, HardQuery, ReasoningChain
from funreason_assets.lib.settings import load_generation_settings

GROUP = "reasoning"


def chain_problems(chains: list[ReasoningChain], max_attempts: int) -> dict[str, list[str]]:
    """Attempt bookkeeping that must hold for every chain."""
    problems: dict[str, list[str]] = {}
    for chain in chains:
        found = []
        if len(chain.attempts) > max_attempts:
            found.append(f"{len(chain.attempts)} attempts > K_max {max_attempts}")
        if chain.passed and not (chain.attempts and chain.attempts[-1].passed):
            found.append("passed without a passing final attempt")
        if chain.passed and not chain.turns:
            found.append("passed without kept turns")
        found.extend(
            f"attempt {attempt.attempt} retried without a critique"
            for attempt in chain.attempts[:-1]
            if attempt.passed or not attempt.critique
        )
        if found:
            problems[chain.chain_id] = found
    return problems


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    code_version="1",
    partitions_def=shard_partitions,
    check_specs=[
        dg.AssetCheckSpec(
            "kept_reasoning_has_no_leakage", asset="reasoning_chains", blocking=True,
            description="Kept reasoning never mentions the advanced tool, hints, critiques or "
            "a previous attempt.",
        ),
        dg.AssetCheckSpec(
            "attempts_well_formed", asset="reasoning_chains", blocking=True,
            description="At most K_max attempts; every retry follows a critique; a verified "
            "round ends with a passing attempt and keeps its turns.",
        ),
        dg.AssetCheckSpec(
            "accepted_share", asset="reasoning_chains",
            description="Share of attempted rounds that are verified stays above the floor.",
        ),
    ],
)
def reasoning_chains(
    context: dg.AssetExecutionContext,
    environment_packs: EnvironmentPacksResource,
    models: ModelsResource,
    ground_truth_plans: list[DialoguePlan],
    hard_queries: list[HardQuery],
):
    """One record per round: every reasoning attempt with its verdict, and the kept turns."""
    settings = load_generation_settings()
    config = settings.reasoning
    registry = environment_packs.registry()
    roles = models.roles(registry, seed=settings.base_seed, slip_rate=config.slip_rate)
    try:
        outcomes = run_chains(ground_truth_plans, hard_queries, registry, roles, config)
    finally:
        roles.close()
    chains = [chain for outcome in outcomes for chain in outcome.chains]
    stats = chain_stats(chains, config.max_attempts)
    leaking = [
        chain.chain_id for chain in chains for turn in chain.turns if LEAKAGE.search(turn.reasoning)
    ]
    problems = chain_problems(chains, config.max_attempts)
    dialogues = [outcome.dialogue for outcome in outcomes if outcome.dialogue]
    preview = [
        {"variant": c.variant, "attempts": len(c.attempts), "passed": c.passed,
         "failures": ", ".join(a.failure_kind or "" for a in c.attempts if not a.passed)}
        for c in chains[:10]
    ]
    metadata = {
        "dagster/row_count": len(chains),
        **{key: value for key, value in stats.items() if key != "rounds"},
        "dialogues_verified": len(dialogues),
        "dialogues_dropped": dict(Counter(o.drop_reason for o in outcomes if o.drop_reason)),
        "generators": roles.generators(),
        "model_calls": roles.accounting_metadata(),
        "preview": dg.MetadataValue.md(markdown_table(preview)),
    }
    return dg.MaterializeResult(
        value=chains,
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="kept_reasoning_has_no_leakage", passed=not leaking,
                metadata={"kept_turns": sum(len(c.turns) for c in chains),
                          "leaking_chains": leaking[:10]},
            ),
            dg.AssetCheckResult(
                check_name="attempts_well_formed", passed=not problems,
                metadata={"chains": len(chains), "problems": dict(list(problems.items())[:10])},
            ),
            dg.AssetCheckResult(
                check_name="accepted_share",
                passed=stats["accepted_share"] >= config.min_accepted_share,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"accepted_share": stats["accepted_share"],
                          "floor": config.min_accepted_share},
            ),
        ],
    )
