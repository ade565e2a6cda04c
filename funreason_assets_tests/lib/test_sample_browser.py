"""The report's sample browser: outcomes, the stratified sample, the page, and Chromium."""

import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from funreason_assets.lib import report, sample_browser
from funreason_assets.lib.curation import CurationResult, verified_dialogues
from funreason_assets.lib.lineage_story import lineage_sources
from funreason_assets.testing.run_records import make_run_records
from funreason_assets.testing.ui_server import small_png

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def run(registry, api_graph):
    """A shard whose plans end every way: accepted, dropped by a filter, in reasoning, in
    synthesis."""
    records = make_run_records(registry, api_graph, "shard-browser", 24, 3)
    plans = records.plans
    failing, no_query = plans[0].plan_id, plans[1].plan_id
    chains = []
    for chain in records.chains:
        if chain.plan_id == failing and chain.round_index == 0:
            chain = chain.model_copy(update={"passed": False, "turns": [],
                                             "drop_reason": "not_verified"})
        if chain.plan_id == no_query:
            chain = chain.model_copy(update={"passed": False, "turns": [], "attempts": [],
                                             "drop_reason": "no_query"})
        chains.append(chain)
    queries = [q for q in records.queries if q.plan_id != no_query]
    verified = verified_dialogues(plans, chains, 2)
    duplicate = verified[0]
    filtered = CurationResult(
        kept=verified[1:], dropped={"near_duplicate": [duplicate.dialogue_id]},
        considered=len(verified),
    )
    sources = lineage_sources(plans, queries, chains, records.scenarios, records.graph)
    return sources, verified, filtered, duplicate, failing, no_query


def test_every_plan_gets_its_outcome(run):
    sources, verified, filtered, duplicate, failing, no_query = run
    outcomes = sample_browser.plan_outcomes(
        sources.plans, sources.chains, verified, filtered, filtered.kept
    )
    assert set(outcomes) == {plan.plan_id for plan in sources.plans}
    assert outcomes[duplicate.plan_id].label == "dropped at curation: near_duplicate"
    assert outcomes[failing].label == "dropped at reasoning: not_verified"
    assert outcomes[no_query].label == f"dropped at synthesis: {sample_browser.QUERY_DROPPED}"
    accepted = [p for p, o in outcomes.items() if o.label == "accepted"]
    assert sorted(accepted) == sorted(d.plan_id for d in filtered.kept)


def test_the_sample_covers_every_outcome_and_variant_within_its_cap(run):
    sources, verified, filtered, *_ = run
    _, everything = sample_browser.build_browser(sources, verified, filtered, filtered.kept, {})
    limit = len({(s.outcome.label, s.variants[0]) for s in everything})
    assert limit < len(everything)
    markup, picked = sample_browser.build_browser(
        sources, verified, filtered, filtered.kept, {}, limit=limit
    )
    assert len(picked) == limit and markup.count("<article ") == limit
    labels = {sample.outcome.label for sample in picked}
    assert {"dropped at curation: near_duplicate", "dropped at reasoning: not_verified",
            f"dropped at synthesis: {sample_browser.QUERY_DROPPED}", "accepted"} <= labels
    strata = {(s.outcome.label, s.variants[0]) for s in everything}
    assert len(everything) == len(sources.plans) <= sample_browser.MAX_SAMPLES
    assert strata == {(s.outcome.label, s.variants[0]) for s in sample_browser.stratified(
        everything, len(strata))}


def test_each_dialogue_reads_whole_in_a_self_contained_page(run):
    sources, verified, filtered, duplicate, *_ = run
    stories = {duplicate.dialogue_id: "the story from the index"}
    markup, picked = sample_browser.build_browser(sources, verified, filtered, filtered.kept,
                                                  stories)
    page = report.to_html("t", [report.Section("Sample browser", html=markup)])
    assert not re.search(r"""(src|href)=["']?https?:""", page) and "<link" not in page
    assert "stratified" in page and "the story from the index" in page
    assert page.count("<details>") == len(picked)
    query = sources.queries[0]
    assert _escaped(query.query) in page and "Ground truth" in page and "Attempt 1" in page
    reply = next(t.reply for c in sources.chains for t in c.turns)
    assert _escaped(reply[:60]) in page
    goals = [p for p in sources.plans if getattr(p, "goal", None)]
    assert ("<b>Goal:</b>" in page) == bool(goals)


def _escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_chromium_shows_the_dialogue_the_filters_pick(run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is installed by `make test`; run it through the Makefile")
    sources, verified, filtered, _, failing, _ = run
    markup, picked = sample_browser.build_browser(sources, verified, filtered, filtered.kept,
                                                  {})
    page = tmp_path / "browser.html"
    page.write_text(report.to_html("Sample browser", [
        report.Section("Sample browser", "", html=markup)]), encoding="utf-8")
    outcome = "dropped at reasoning: not_verified"
    url = f"{page.as_uri()}#outcome={urllib.parse.quote(outcome)}"
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    shown = re.findall(r"<article id=\"([^\"]+)\" class=\"sample\"(?! hidden)", dom)
    matching = [sample.key for sample in picked if sample.outcome.label == outcome]
    assert failing in matching and shown == matching[:1], (shown, matching)
    matched = re.search(r"(\d+) of (\d+) embedded dialogues match", dom)
    assert matched, dom[-2000:]
    assert 1 <= int(matched.group(1)) <= int(matched.group(2))
    artifacts = Path(os.environ.get("FUNREASON_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report_sample_browser.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("FUNREASON_UI_DOCS"):
        # The README shows an accepted dialogue (the failing one above is made up by the test).
        accepted = f"{page.as_uri()}#outcome=accepted&variant=error_recovery"
        subprocess.run([browser, *flags, f"--screenshot={shot}", accepted],
                       capture_output=True, timeout=120, check=True)
        small_png(shot, Path(os.environ["FUNREASON_UI_DOCS"]) / shot.name)
