"""The reasoner's words: each step explained from the state it is in.

A step says what the last results showed (a value it can now use, or an error and what it
does about it), what it still needs and which tool gives that, and what it calls now; the last
step says what answers the request. Each part is drawn from several forms, so no wording
repeats across a corpus, and every error result is named in the very next message.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from funreason_assets.lib.realizer.results import error_of, facts_sentence, key_facts
from funreason_assets.lib.realizer.values import join_words


@dataclass(frozen=True)
class PlannedStep:
    """One call the reasoner makes now, and why.

    Attributes:
        tool: The tool called.
        is_target: Whether it is the call that does what the user asked.
        feeds: The tool whose input this call's output provides (empty if none).
        noun: What the call returns ("the user id").
        uses: What it takes from earlier results ("the user id", ...).
        retry: Whether it re-runs a call that just failed.
        values: A few of the values it is called with, said (for the message).
    """

    tool: str
    is_target: bool
    feeds: str
    noun: str
    uses: tuple[str, ...] = ()
    retry: bool = False
    values: tuple[str, ...] = ()


_GOAL = (
    "The user wants me to {goal}.", "The request: {goal}.", "So the job is to {goal}.",
    "What's asked is to {goal}.", "I need to {goal}.", "Goal: {goal}.",
    "The user is asking me to {goal}.", "Task at hand: {goal}.",
)
_NEED = (
    "Before {target} can run I need {noun}, and {tool} gives me that.",
    "{target} depends on {noun}, which I get from {tool}.",
    "I don't have {noun} yet; {tool} provides it.",
    "First I need {noun}, so {tool} comes first.",
    "{tool} has to run before {target}, since {target} needs {noun}.",
    "Missing piece: {noun}. {tool} will give it to me.",
    "To get {noun} I'll call {tool}; {target} needs it.",
)
_PREPARE = (
    "{tool} has to happen first so that {target} works.",
    "{target} won't work until {tool} runs, so I'll start there.",
    "I'll run {tool} first to set things up for {target}.",
    "Setting up with {tool} before {target}.",
    "{tool} is a prerequisite here; {target} comes after.",
)
_DIRECT = (
    "{tool} does exactly that{with_values}.", "I can do it with {tool}{with_values}.",
    "That's a job for {tool}{with_values}.", "{tool}{with_values} should handle it.",
    "Calling {tool}{with_values}.", "I'll use {tool}{with_values} for this.",
    "Everything it needs is known, so {tool}{with_values} it is.",
)
_USE = (
    "Now I have {uses}, so {tool} can go ahead.", "With {uses} in hand, I call {tool}.",
    "{tool} can use {uses} from that result.", "That gives me {uses}; next is {tool}.",
    "Taking {uses} from the result, I'll run {tool}.", "{tool} was waiting for {uses}; "
    "calling it now.",
)
_ALSO = (
    "{tool} can run alongside it.", "I'll also run {tool} in the same step.",
    "{tool} doesn't depend on it, so it goes in too.", "Adding {tool} to this step.",
)
_GOT = (
    "{tool} worked: {facts}.", "The {tool} call returned: {facts}.", "Got it from {tool}: "
    "{facts}.", "{tool} came back fine ({facts}).", "Result from {tool}: {facts}.",
    "OK, {tool} reports {facts}.",
)
_GOT_PLAIN = (
    "{tool} went through.", "{tool} is done.", "That worked.", "{tool} succeeded.",
    "Good, {tool} finished without problems.", "The {tool} step is complete.",
)
_ERROR_RETRY = (
    "{tool} failed with '{error}'. That looks temporary, so I'll try it again.",
    "The {tool} call errored ('{error}'); a transient problem, so I retry it.",
    "'{error}' came back from {tool}. Nothing wrong with the call itself, so I'll rerun it.",
    "{tool} didn't go through: '{error}'. I'll run the same call once more.",
    "Hit an error on {tool} ('{error}'). Retrying it should work.",
)
_ERROR_ON = (
    "{tool} returned an error: '{error}'. I'll keep going with the rest and mention it.",
    "The {tool} call failed ('{error}'), so that part didn't happen; I'll carry on and "
    "report it.",
    "'{error}' from {tool}: that step failed. Moving on, and I'll flag it to the user.",
    "{tool} could not do it ('{error}'). I continue with what's left and will say so.",
)
_DONE = (
    "That covers everything that was asked.", "Nothing left to call; I can answer now.",
    "That answers the request.", "All done, time to report back.",
    "That's the last piece, so I'll sum it up.", "The request is complete.",
    "I have what the user wanted.", "No more calls needed.",
)
_DONE_WITH_ERROR = (
    "Since {tool} failed ('{error}'), I can't complete that part; I'll tell the user what "
    "happened instead of guessing.",
    "The {tool} error ('{error}') stands, so I'll report it rather than retry blindly.",
    "{tool} didn't succeed ('{error}'); the honest answer is to explain that.",
)


def _pick(rng: random.Random, options: Sequence[str], **values: str) -> str:
    return rng.choice(options).format(**values)


def observe(rng: random.Random, calls: Sequence[str], results: Sequence[Any],
            retried: set[str]) -> list[str]:
    """What the last step's results showed, one sentence per call (errors always named)."""
    sentences = []
    for call, result in zip(calls, results, strict=False):
        tool = call.split("(", 1)[0]
        error = error_of(result)
        if error is not None:
            options = _ERROR_RETRY if tool in retried else _ERROR_ON
            sentences.append(_pick(rng, options, tool=tool, error=error_quote(error)))
            continue
        facts = facts_sentence(key_facts(result, 1))
        if facts and len(facts) <= 120 and rng.random() < 0.7:
            sentences.append(_pick(rng, _GOT, tool=tool, facts=facts))
        else:
            sentences.append(_pick(rng, _GOT_PLAIN, tool=tool))
    if len(sentences) > 2:
        errors = [s for s in sentences if "'" in s]
        sentences = errors or sentences[-1:]
    return sentences


def error_quote(error: str) -> str:
    """An error message as quoted in reasoning: its first sentence, whole."""
    first = error.strip().split("\n", 1)[0]
    return first if len(first) <= 160 else first.split(". ", 1)[0]


def plan_sentences(
    rng: random.Random, goal: str, target: str, steps: Sequence[PlannedStep], first: bool,
) -> list[str]:
    """Why this step's calls come now."""
    sentences = []
    if first:
        sentences.append(_pick(rng, _GOAL, goal=goal))
    for position, step in enumerate(steps):
        if step.retry:
            continue
        with_values = f" with {join_words(list(step.values))}" if step.values and (
            rng.random() < 0.5) else ""
        if step.uses:
            sentences.append(_pick(rng, _USE, tool=step.tool, uses=join_words(list(step.uses))))
        elif step.is_target:
            sentences.append(_pick(rng, _DIRECT, tool=step.tool, with_values=with_values))
        elif position:
            sentences.append(_pick(rng, _ALSO, tool=step.tool))
        elif step.feeds:
            sentences.append(_pick(rng, _NEED, tool=step.tool, target=target, noun=step.noun))
        else:
            sentences.append(_pick(rng, _PREPARE, tool=step.tool, target=target))
    return sentences


def step_message(
    rng: random.Random,
    goal: str,
    target: str,
    steps: Sequence[PlannedStep],
    last_calls: Sequence[str],
    last_results: Sequence[Any],
) -> str:
    """The reasoning of a step that calls tools."""
    retried = {step.tool for step in steps if step.retry}
    sentences = observe(rng, last_calls, last_results, retried) if last_calls else []
    sentences += plan_sentences(rng, goal, target, steps, first=not last_calls)
    return " ".join(sentences)


def final_message(
    rng: random.Random, last_calls: Sequence[str], last_results: Sequence[Any],
    failed: Sequence[tuple[str, str]],
) -> str:
    """The reasoning of the last step (no calls): what answers the request, or what failed."""
    sentences = observe(rng, last_calls, last_results, set()) if last_calls else []
    if failed:
        tool, error = failed[-1]
        if not any(f"'{error_quote(error)}'" in s for s in sentences):
            sentences.append(_pick(rng, _DONE_WITH_ERROR, tool=tool, error=error_quote(error)))
        else:
            sentences.append(_pick(rng, _DONE))
    else:
        sentences.append(_pick(rng, _DONE))
    return " ".join(sentences)


_ASK = (
    ("The request doesn't say which {label} to use, and nothing so far tells me. Rather than "
     "guess, I'll ask.", "Which {label} should I use?"),
    ("I can't {goal} without the {label}, and it wasn't given. Better to check first.",
     "Could you tell me the {label}?"),
    ("Everything is clear except the {label}. I'll ask for it before touching anything.",
     "What {label} do you want me to use?"),
    ("To {goal} I need the {label}; it isn't in the request or the earlier turns.",
     "Sure, just tell me the {label} first."),
    ("Missing: the {label}. Guessing could act on the wrong thing, so I'll ask the user.",
     "Happy to. Which {label} did you mean?"),
    ("The {label} is missing from the request. I'll ask instead of assuming one.",
     "I need one more detail: the {label}."),
)
_DECLINE = (
    ("None of my tools can {goal} right now, and the others won't get there. I'll say so.",
     "I can't do that with the tools I have at the moment."),
    ("There's no tool available that lets me {goal}. Faking it with other calls would be "
     "wrong.", "Sorry, I don't have a way to do that right now."),
    ("To {goal} I'd need a tool I don't currently have; I'll tell the user.",
     "That's not something I can do with what's available to me right now."),
    ("No available function handles this ({goal}). Best to be upfront about it.",
     "Unfortunately I can't do that at the moment; the tool for it isn't available."),
    ("I looked for a way to {goal} with my tools and there isn't one.",
     "I'm not able to do that right now."),
)


def ask_message(rng: random.Random, labels: Sequence[str], goal: str) -> tuple[str, str]:
    """The reasoning and question of a turn that must ask for a missing value."""
    reasoning, answer = rng.choice(_ASK)
    label = join_words(list(labels)) or "detail"
    return reasoning.format(label=label, goal=goal), answer.format(label=label, goal=goal)


def decline_message(rng: random.Random, goal: str) -> tuple[str, str]:
    """The reasoning and answer of a turn whose tool is not available."""
    reasoning, answer = rng.choice(_DECLINE)
    return reasoning.format(goal=goal), answer.format(goal=goal)
