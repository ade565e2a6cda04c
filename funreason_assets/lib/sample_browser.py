"""The report's sample browser: whole dialogues picked by variant, class and filter outcome.

Every plan of the run ends in one outcome: accepted (curated), dropped by a curation rule
(`CURATION_RULES`), dropped in reasoning (the chain's drop reason) or dropped in synthesis (a
query rule, or a verified prefix too short). A stratified sample of plans (every outcome and
variant represented, at most `MAX_SAMPLES`) is embedded in the HTML report, each readable whole:
the goal when the plan has one, the queries, the ground truth, every reasoning attempt with its
verdict and critique, the replies, and the lineage story. The page is self-contained: inline
markup, style and script, no external file.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from funreason_assets.lib.curation import CHECKER_REJECTS, CurationResult
from funreason_assets.lib.lineage_story import LineageSources, plan_story
from funreason_assets.lib.records import DialoguePlan, ReasoningChain, VerifiedDialogue

MAX_SAMPLES = 200
ACCEPTED = "accepted"
QUERY_DROPPED = "hard query dropped by a rule"
# Tool results are cut in the page (the exports hold them whole); what people and models
# said is shown whole.
MAX_RESULT = 300


@dataclass(frozen=True)
class Outcome:
    """Where a plan ended: `stage` (curated, curation, reasoning, synthesis) and why."""

    stage: str
    reason: str

    @property
    def label(self) -> str:
        """`accepted`, or `dropped at <stage>: <reason>`."""
        return ACCEPTED if self.stage == "curated" else f"dropped at {self.stage}: {self.reason}"


@dataclass
class Sample:
    """One plan as the browser shows it."""

    plan: DialoguePlan
    outcome: Outcome
    dialogue: VerifiedDialogue | None = None

    @property
    def key(self) -> str:
        """The dialogue id when the plan became a dialogue, else the plan id."""
        return self.dialogue.dialogue_id if self.dialogue is not None else self.plan.plan_id

    @property
    def variants(self) -> list[str]:
        """The variants of the plan's rounds, in order of first appearance."""
        return list(dict.fromkeys(r.variant for r in self.plan.rounds))


def plan_outcomes(
    plans: Sequence[DialoguePlan],
    chains: Sequence[ReasoningChain],
    verified: Sequence[VerifiedDialogue],
    filtered: CurationResult,
    curated: Sequence[VerifiedDialogue],
) -> dict[str, Outcome]:
    """The outcome of every plan.

    Args:
        plans: Every plan of the run.
        chains: Every reasoning chain.
        verified: The dialogues curation considered (`verified_dialogues`).
        filtered: What curation's filters made of them (`curate`).
        curated: The curated dialogues (the filters' kept set less bfcl-eval's rejects).
    """
    curated_plans = {d.plan_id for d in curated}
    rule_of = {d: rule for rule, ids in filtered.dropped.items() for d in ids}
    verified_by_plan = {d.plan_id: d for d in verified}
    chains_by_plan: dict[str, list[ReasoningChain]] = {}
    for chain in chains:
        chains_by_plan.setdefault(chain.plan_id, []).append(chain)
    outcomes = {}
    for plan in plans:
        if plan.plan_id in curated_plans:
            outcomes[plan.plan_id] = Outcome("curated", ACCEPTED)
        elif plan.plan_id in verified_by_plan:
            rule = rule_of.get(verified_by_plan[plan.plan_id].dialogue_id, CHECKER_REJECTS)
            outcomes[plan.plan_id] = Outcome("curation", rule)
        else:
            ordered = sorted(chains_by_plan.get(plan.plan_id, []), key=lambda c: c.round_index)
            failed = next((c for c in ordered if not c.passed), None)
            if failed is not None and failed.drop_reason == "no_query":
                outcomes[plan.plan_id] = Outcome("synthesis", QUERY_DROPPED)
            elif failed is not None:
                last = failed.attempts[-1].failure_kind if failed.attempts else None
                outcomes[plan.plan_id] = Outcome(
                    "reasoning", failed.drop_reason or f"failed ({last})"
                )
            elif len(ordered) < len(plan.rounds):
                outcomes[plan.plan_id] = Outcome("synthesis", QUERY_DROPPED)
            else:
                outcomes[plan.plan_id] = Outcome("reasoning", "verified prefix too short")
    return outcomes


def _order(key: str) -> str:
    # A stable shuffle: the same run always shows the same sample.
    return hashlib.sha256(key.encode()).hexdigest()


def stratified(samples: Sequence[Sample], limit: int = MAX_SAMPLES) -> list[Sample]:
    """At most `limit` samples, one from each (outcome, first variant) stratum in turn."""
    strata: dict[tuple[str, str], list[Sample]] = {}
    for sample in sorted(samples, key=lambda s: _order(s.key)):
        strata.setdefault((sample.outcome.label, sample.variants[0]), []).append(sample)
    queues = [strata[key] for key in sorted(strata)]
    picked: list[Sample] = []
    depth = 0
    while len(picked) < limit and any(depth < len(queue) for queue in queues):
        picked.extend(queue[depth] for queue in queues if depth < len(queue))
        depth += 1
    return sorted(picked[:limit], key=lambda s: (s.outcome.label, s.key))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _e(value: Any) -> str:
    return html.escape(_text(value))


def _result(value: Any) -> str:
    text = _text(value)
    return html.escape(text if len(text) <= MAX_RESULT else text[: MAX_RESULT - 3] + "...")


def goal_html(goal: Mapping[str, Any]) -> str:
    """The plan's hidden goal: its reason and tasks (empty when the plan has none)."""
    if not goal:
        return ""
    tasks = "".join(
        f"<li>{_e(task.get('target', task))}"
        + (f" <i>(uses task {', '.join(str(i + 1) for i in task['builds_on'])})</i>"
           if isinstance(task, Mapping) and task.get("builds_on") else "")
        + "</li>"
        for task in goal.get("tasks", [])
    )
    reason = _e(goal.get("reason", ""))
    return f"<div class='goal'><b>Goal:</b> {reason}<ol>{tasks}</ol></div>"


def _round_html(sample: Sample, index: int, sources: LineageSources) -> str:
    planned = sample.plan.rounds[index]
    query = sources.queries_of(sample.plan.plan_id).get(planned.index)
    chain = sources.chains_of(sample.plan.plan_id).get(planned.index)
    kept = sample.dialogue is not None and planned.index in sample.dialogue.rounds
    parts = [f"<h4>Round {planned.index}: {_e(planned.target)} <span class='tag'>"
             f"{_e(planned.variant)}</span>{'' if kept else ' <i>(not kept)</i>'}</h4>"]
    if query is not None:
        parts.append(f"<p class='user'><b>User:</b> {_e(query.query)}</p>")
        if query.follow_up:
            parts.append(f"<p class='user'><b>User (follow-up):</b> {_e(query.follow_up)}</p>")
    else:
        parts.append("<p><i>no hard query (dropped by a query rule, or an earlier round "
                     "ended the dialogue)</i></p>")
    truth = "".join(
        f"<li><code>{_e(call.call)}</code>"
        f"{' <i>[injected error]</i>' if call.injected_error else ''}</li>"
        for call in planned.calls
    )
    parts.append(f"<div><b>Ground truth</b><ul>{truth}</ul></div>")
    for attempt in chain.attempts if chain is not None else []:
        verdict = "pass" if attempt.passed else f"fail ({attempt.failure_kind})"
        steps = "".join(
            f"<li>{_e(step.reasoning)}"
            + "".join(f"<br><code>{_e(call)}</code> &rarr; {_result(result)}"
                      for call, result in zip(step.calls, step.results, strict=False))
            + "</li>"
            for step in attempt.steps
        )
        critique = f"<p><b>Critique:</b> {_e(attempt.critique)}</p>" if attempt.critique else ""
        parts.append(f"<div class='attempt {'pass' if attempt.passed else 'fail'}'><b>Attempt "
                     f"{attempt.attempt} [{_e(attempt.generator)}]: {_e(verdict)}</b>"
                     f"<ol>{steps}</ol>{critique}</div>")
    parts.extend(
        f"<p class='reply'><b>Assistant ({_e(turn.mode)}):</b> {_e(turn.reply)}</p>"
        for turn in (chain.turns if chain is not None else [])
    )
    if chain is not None and chain.drop_reason:
        parts.append(f"<p class='drop'>dropped: {_e(chain.drop_reason)}</p>")
    return "".join(parts)


def _persona_name(persona: Mapping[str, Any]) -> str:
    name = " ".join(str(persona.get(k, "")) for k in ("first_name", "last_name")).strip()
    return name or "-"


def sample_html(sample: Sample, sources: LineageSources, stories: Mapping[str, str]) -> str:
    """One whole dialogue: header, goal, rounds, and its lineage story."""
    plan = sample.plan
    story = stories.get(sample.key)
    if story is None:
        kept = sample.dialogue.rounds if sample.dialogue is not None else []
        story = plan_story(plan, kept, sources)
    attributes = (
        f"id='{html.escape(sample.key)}' class='sample' hidden "
        f"data-variants='{html.escape(' '.join(sample.variants))}' "
        f"data-classes='{html.escape(' '.join(plan.involved_classes))}' "
        f"data-outcome='{html.escape(sample.outcome.label)}'"
    )
    header = (
        f"<h3>{html.escape(sample.key)}</h3><p><b>{html.escape(sample.outcome.label)}</b>"
        f" &middot; classes {html.escape(', '.join(plan.involved_classes))} &middot; shard "
        f"{html.escape(plan.shard)} &middot; user {_e(_persona_name(plan.persona))}</p>"
    )
    rounds = "".join(_round_html(sample, i, sources) for i in range(len(plan.rounds)))
    goal = goal_html(getattr(plan, "goal", None) or {})
    return (f"<article {attributes}>{header}{goal}{rounds}<details><summary>Lineage story"
            f"</summary><pre>{html.escape(story)}</pre></details></article>")


def _options(values: Sequence[str], everything: str) -> str:
    return f"<option value=''>{everything}</option>" + "".join(
        f"<option value='{html.escape(v)}'>{html.escape(v)}</option>" for v in values
    )


_SCRIPT = """
(function () {
  var root = document.getElementById('sample-browser');
  var samples = Array.prototype.slice.call(root.querySelectorAll('article.sample'));
  var pick = {variant: root.querySelector('#sb-variant'), cls: root.querySelector('#sb-class'),
              outcome: root.querySelector('#sb-outcome')};
  var list = root.querySelector('#sb-list'), count = root.querySelector('#sb-count');
  function has(words, value) { return !value || words.split(' ').indexOf(value) >= 0; }
  function show(id) {
    samples.forEach(function (s) { s.hidden = s.id !== id; });
    list.value = id;
  }
  function apply(preferred) {
    var matching = samples.filter(function (s) {
      return has(s.dataset.variants, pick.variant.value) && has(s.dataset.classes, pick.cls.value)
        && (!pick.outcome.value || s.dataset.outcome === pick.outcome.value);
    });
    list.innerHTML = '';
    matching.forEach(function (s) {
      var option = document.createElement('option');
      option.value = s.id;
      option.textContent = s.id + ' - ' + s.dataset.outcome + ' - ' + s.dataset.variants;
      list.appendChild(option);
    });
    count.textContent = matching.length + ' of ' + samples.length + ' embedded dialogues match';
    var chosen = matching.filter(function (s) { return s.id === preferred; })[0] || matching[0];
    show(chosen ? chosen.id : '');
  }
  [pick.variant, pick.cls, pick.outcome].forEach(function (select) {
    select.addEventListener('change', function () { apply(); });
  });
  list.addEventListener('change', function () { show(list.value); });
  // A link can carry the choice: #variant=base&class=MathAPI&outcome=accepted&sample=<id>
  var wanted = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (pair) {
    var kv = pair.split('=');
    if (kv[0]) { wanted[decodeURIComponent(kv[0])] = decodeURIComponent(kv[1] || ''); }
  });
  function choose(select, value) {
    // A value this page has no option for (a variant no sample has) leaves the filter open.
    var known = Array.prototype.some.call(select.options, function (o) {
      return o.value === value;
    });
    if (value && known) { select.value = value; }
  }
  choose(pick.variant, wanted.variant);
  choose(pick.cls, wanted['class']);
  choose(pick.outcome, wanted.outcome);
  apply(wanted.sample);
  if (Object.keys(wanted).length) { root.scrollIntoView(); }
})();
"""

STYLE = (
    "#sample-browser .controls{display:flex;gap:1em;flex-wrap:wrap;align-items:end}"
    "#sample-browser label{font-size:13px}#sb-list{width:100%;font-size:12px}"
    "#sample-browser article{border:1px solid #ccc;padding:.5em 1em;margin-top:.5em}"
    "#sample-browser .tag{background:#eef;padding:0 4px;font-size:12px}"
    "#sample-browser .goal{background:#f6f6e8;padding:4px 8px}"
    "#sample-browser .attempt.fail{border-left:3px solid #c33;padding-left:6px}"
    "#sample-browser .attempt.pass{border-left:3px solid #3a3;padding-left:6px}"
    "#sample-browser .user{background:#eef5ff;padding:2px 6px}"
    "#sample-browser .reply{background:#f0fff0;padding:2px 6px}"
    "#sample-browser pre{white-space:pre-wrap;font-size:11px}"
)


def browser_html(
    samples: Sequence[Sample], total: int, sources: LineageSources, stories: Mapping[str, str]
) -> str:
    """The browser: filters, the list of matching dialogues, each dialogue, the script."""
    variants = sorted({v for s in samples for v in s.variants})
    classes = sorted({c for s in samples for c in s.plan.involved_classes})
    outcomes = sorted({s.outcome.label for s in samples})
    controls = (
        "<div class='controls'>"
        f"<label>Variant<br><select id='sb-variant'>{_options(variants, 'any variant')}"
        "</select></label>"
        f"<label>Class<br><select id='sb-class'>{_options(classes, 'any class')}</select></label>"
        f"<label>Filter outcome<br><select id='sb-outcome'>{_options(outcomes, 'any outcome')}"
        "</select></label><span id='sb-count'></span></div>"
        "<select id='sb-list' size='8'></select>"
    )
    note = (
        f"<p>{len(samples)} of the run's {total} dialogue plans are embedded: a stratified "
        f"sample (every filter outcome and variant represented, at most {MAX_SAMPLES}), so the "
        "page stays small. Pick a variant, a class or an outcome, then a dialogue.</p>"
    )
    body = "".join(sample_html(s, sources, stories) for s in samples)
    return (f"<div id='sample-browser'>{note}{controls}{body}</div>"
            f"<script>{_SCRIPT}</script>")


def build_browser(
    sources: LineageSources,
    verified: Sequence[VerifiedDialogue],
    filtered: CurationResult,
    curated: Sequence[VerifiedDialogue],
    stories: Mapping[str, str],
    limit: int = MAX_SAMPLES,
) -> tuple[str, list[Sample]]:
    """The browser's HTML and the samples it embeds, from the run's records."""
    outcomes = plan_outcomes(sources.plans, sources.chains, verified, filtered, curated)
    dialogues = {d.plan_id: d for d in verified}
    dialogues.update({d.plan_id: d for d in curated})
    samples = [
        Sample(plan, outcomes[plan.plan_id], dialogues.get(plan.plan_id))
        for plan in sources.plans if plan.rounds
    ]
    picked = stratified(samples, limit)
    return browser_html(picked, len(samples), sources, stories), picked
