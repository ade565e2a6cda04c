"""Closing replies: the user's request answered in a sentence or two from the results.

A reply says what was done (the outcome of the turn's state-changing calls) and what the user
asked to know (the telling fields of the last informative result), quoting values whole or
describing them ("12 lines of text"), never cutting one. An error the turn recovered from is
mentioned only as what was done about it; one that stands is reported plainly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from funreason_assets.lib.executor import parse_calls
from funreason_assets.lib.realizer import templates
from funreason_assets.lib.realizer.intents import Intent
from funreason_assets.lib.realizer.results import error_of, facts_sentence, key_facts
from funreason_assets.lib.realizer.values import say

# Tools that only read: their result is the answer, not an outcome to report.
_READ_PREFIXES = ("get_", "list_", "search_", "view_", "find", "check_", "display", "estimate_",
                  "retrieve_", "compute_", "cat", "ls", "pwd", "grep", "tail", "wc", "diff",
                  "du", "sort")
_MATH = "math"

_OUTCOME = ("I've {did}.", "Done: I {did}.", "All set, I {did}.", "{Did}.", "Okay, {did}.",
            "I {did} for you.", "That's taken care of: I {did}.", "Finished: I {did}.")
_ANSWER = ("{Facts}.", "Here's what I found: {facts}.", "It turns out {facts}.",
           "According to {tool}, {facts}.", "{Facts}, per {tool}.", "Result: {facts}.",
           "So {facts}.", "Looks like {facts}.")
_NOUN_ANSWER = ("{Noun}: {facts}.", "Here's {noun}: {facts}.", "For {noun}, {facts}.",
                "As for {noun}, {facts}.")
_RECOVERED = (
    "The first try hit a temporary error, so I ran it again and it went through.",
    "There was a brief hiccup ({error}) on the first call; a retry fixed it.",
    "One call failed at first ({error}), and I retried it successfully.",
    "I had to retry once after a temporary error.",
)
_FAILED = (
    "I couldn't finish one part: {tool} said '{error}'.",
    "One step failed ({tool}: '{error}'), so that part didn't happen.",
    "Heads up: {tool} returned an error ('{error}').",
)


def _kind(tool: str, intent: Intent) -> str:
    """`read` (its result answers), `write` (its outcome is reported) or `session` (neither)."""
    if "login" in tool or "logout" in tool or tool.startswith("authenticate"):
        return "session" if not tool.endswith("_login_status") else "read"
    # A conversion changes nothing: its answer is the converted amount.
    if tool.startswith(_READ_PREFIXES) or intent.family == _MATH or any(
        did.startswith("converted") for did in intent.did
    ):
        return "read"
    return "write"


def _call_texts(call: str, intent: Intent) -> tuple[dict[str, str], dict[str, Any]]:
    try:
        parsed = parse_calls(call)[0]
    except Exception:  # a reply still reads without the call's values
        return {}, {}
    texts = {}
    for name, value in parsed.kwargs.items():
        if isinstance(value, bool | dict) or (isinstance(value, str) and len(value) > 60):
            continue
        words = intent.words.get(name, {})
        texts[name] = words.get(value, say(value)) if isinstance(value, str) else say(value)
    return texts, dict(parsed.kwargs)


def compose_reply(
    rng: random.Random,
    calls: Sequence[str],
    results: Sequence[Any],
    intent_of: Callable[[str], Intent],
) -> str:
    """A closing reply from a turn's calls and results."""
    pairs = list(zip(calls, results, strict=False))
    if not pairs:
        return rng.choice(("Done.", "All set.", "That's done."))
    tools = [call.split("(", 1)[0] for call, _ in pairs]
    errors = [(tool, error_of(result)) for tool, (_, result) in zip(tools, pairs, strict=True)]
    recovered = [(tool, error) for position, (tool, error) in enumerate(errors)
                 if error and any(t == tool and e is None for t, e in errors[position + 1:])]
    standing = [(tool, error) for tool, error in errors
                if error and (tool, error) not in recovered]
    sentences: list[str] = []
    kinds = [_kind(tool, intent_of(tool)) for tool in tools]
    writes = [position for position, kind in enumerate(kinds)
              if kind == "write" and errors[position][1] is None]
    if writes:
        position = writes[-1]
        intent = intent_of(tools[position])
        texts, flags = _call_texts(pairs[position][0], intent)
        did = next((f for f in (templates.fill(t, texts, flags) for t in intent.did) if f), "")
        if did:
            sentence = rng.choice(_OUTCOME)
            sentences.append(sentence.replace("{Did}", templates.capitalize(did))
                             .replace("{did}", did))
    start = writes[-1] + 1 if writes else 0
    reads = [position for position in range(start, len(pairs))
             if kinds[position] == "read" and errors[position][1] is None]
    shown: list[str] = []
    for position in reversed(reads):
        if tools[position] not in shown and len(shown) < (2 if not writes else 1):
            shown.append(tools[position])
    for tool in reversed(shown):
        position = max(p for p in reads if tools[p] == tool)
        noun = intent_of(tool).noun
        facts = facts_sentence(key_facts(pairs[position][1], 2 if rng.random() < 0.5 else 1),
                               noun)
        if not facts:
            continue
        if noun != "the result" and rng.random() < 0.4 and not facts.startswith(noun):
            sentence = rng.choice(_NOUN_ANSWER)
        else:
            sentence = rng.choice(_ANSWER)
        sentences.append(sentence.replace("{Facts}", templates.capitalize(facts))
                         .replace("{facts}", facts).replace("{tool}", tool)
                         .replace("{Noun}", templates.capitalize(noun))
                         .replace("{noun}", noun))
    if recovered:
        error = str(recovered[0][1]).split(".")[0].lower()
        sentences.append(rng.choice(_RECOVERED).format(error=error))
    for tool, error in standing[:1]:
        sentences.append(rng.choice(_FAILED).format(tool=tool, error=str(error).split("\n")[0]))
    if not sentences:
        sentences.append(rng.choice(("Done.", "All set.", "That's done.", "Finished.",
                                     "Taken care of.", "That went through.", "Sorted.",
                                     "Okay, that's handled.")))
    return " ".join(sentences)
