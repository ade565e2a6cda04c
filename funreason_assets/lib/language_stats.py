"""How natural the dialogues read: lexical variety, dictation, templates, cut values.

The figures of the report's "Language" section, computed from the curated dialogues' user
turns, reasoning messages and closing replies (and usable on any text, e.g. BFCL's own
multi-turn questions, to compare):

- distinct-2 / distinct-3: unique word n-grams over all n-grams of the user turns;
- distinct 4-word prefixes: unique first-four-word prefixes over the user turns;
- top-10 opener share: turns that open (first three words) like one of the ten most common;
- dictation share: turns that state a value right after its parameter's name or humanized
  name ("with base 13.6", "client secret 'x'") rather than the way people say it;
- reasoning / reply template concentration: the share of the most common text once values
  (quoted strings, numbers, identifiers, names) are masked (for replies, their first sentence:
  "Done." followed by dumped fields is one template whatever the fields);
- replies that cut a value: a tool-result value shown only as a cut-off prefix.

Pooled n-gram figures fall as a corpus grows, so every figure is taken on a fixed-size,
content-seeded sample (`SAMPLE_SIZE` items of each kind), which makes runs and corpora of
different sizes comparable.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from funreason_assets.lib.checks import CheckSpec, Verdict
from funreason_assets.lib.executor import parse_calls
from funreason_assets.lib.records import VerifiedDialogue

SAMPLE_SIZE = 300
OPENER_WORDS = 3
PREFIX_WORDS = 4
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")

# Thresholds of the report's WARN checks (figure -> (comparison, bound)).
MIN_DISTINCT_PREFIXES = 0.80
# Turns of one dialogue pursue one goal and name the same entities again ("the ticket titled
# 'Printer jam'"), and deep tools are oversampled, which repeats 3-grams across a sample of
# whole dialogues (it was 0.75 when dialogues were unrelated requests; BFCL's own: 0.90).
MIN_DISTINCT_3 = 0.70
MAX_TOP_OPENER_SHARE = 0.25
MAX_DICTATION_SHARE = 0.25
MAX_REASONING_TEMPLATE_SHARE = 0.05
MAX_REPLY_TEMPLATE_SHARE = 0.10
MAX_CUT_REPLY_SHARE = 0.0


@dataclass(frozen=True)
class UserTurnSample:
    """One user turn and the (parameter, value) pairs of the calls it asks for."""

    text: str
    values: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ReplySample:
    """One closing reply and the tool results it speaks about."""

    text: str
    results: tuple[Any, ...] = ()


@dataclass(frozen=True)
class LanguageFigures:
    """The language figures of one corpus (shares in [0, 1])."""

    user_turns: int
    reasoning_messages: int
    replies: int
    distinct_2: float
    distinct_3: float
    distinct_prefixes: float
    top_opener_share: float
    dictation_share: float
    reasoning_template_share: float
    reply_template_share: float
    cut_reply_share: float
    top_openers: tuple[str, ...] = ()
    top_reasoning_template: str = ""
    top_reply_template: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-able values."""
        found = asdict(self)
        found["top_openers"] = list(self.top_openers)
        return found


# ---------------------------------------------------------------------- text measures


def words(text: str) -> list[str]:
    """Lower-case word tokens of a text."""
    return _WORD.findall(text.lower())


def sample(items: Sequence[Any], key: Any = str, size: int = SAMPLE_SIZE) -> list[Any]:
    """A content-seeded sample of at most `size` items (the same items in any order)."""
    if len(items) <= size:
        return list(items)
    ranked = sorted(items, key=lambda item: hashlib.sha256(key(item).encode()).hexdigest())
    return ranked[:size]


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Unique word n-grams over all word n-grams of the texts."""
    grams = [
        tuple(tokens[i : i + n])
        for tokens in (words(text) for text in texts)
        for i in range(len(tokens) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def _prefix(text: str, count: int) -> str:
    return " ".join(words(text)[:count])


def distinct_prefixes(texts: Sequence[str], count: int = PREFIX_WORDS) -> float:
    """Unique first-`count`-word prefixes over the texts."""
    return len({_prefix(text, count) for text in texts}) / len(texts) if texts else 0.0


def top_openers(texts: Sequence[str], top: int = 10) -> tuple[float, tuple[str, ...]]:
    """The share of texts opening like one of the `top` most common openers, and those openers."""
    if not texts:
        return 0.0, ()
    openers = Counter(_prefix(text, OPENER_WORDS) for text in texts)
    common = openers.most_common(top)
    return sum(count for _, count in common) / len(texts), tuple(name for name, _ in common)


def _parameter_names(name: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").lower().strip()
    forms = {name.lower(), re.sub(r"\s+", " ", spaced)}
    return {form for form in forms if len(form) >= 2}


def _scalar_texts(value: Any) -> list[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, dict):
        return [text for item in value.values() for text in _scalar_texts(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _scalar_texts(item)]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value)), str(value)]
    text = str(value).strip()
    return [text] if text else []


def dictates(text: str, values: Iterable[tuple[str, Any]]) -> bool:
    """Whether a turn states some value right after its parameter's name.

    "with base 13.6", "client secret 'x'", "file_name: a.txt", "the amount of 20" count;
    "fly from SFO" or "about 13.6 km" do not.
    """
    lowered = text.lower()
    for name, value in values:
        for scalar in _scalar_texts(value):
            for form in _parameter_names(name):
                pattern = (
                    rf"(?<![\w-]){re.escape(form)}s?\s*(?:[:=]|\bis\b|\bof\b|\bas\b|\bto\b)?\s*"
                    rf"[\"'`\u2018\u201c]?{re.escape(scalar.lower())}"
                )
                if re.search(pattern, lowered):
                    return True
    return False


def dictation_share(turns: Sequence[UserTurnSample]) -> float:
    """The share of turns that dictate some value after its parameter's name."""
    if not turns:
        return 0.0
    return sum(dictates(turn.text, turn.values) for turn in turns) / len(turns)


_QUOTED = re.compile(
    "'[^']*'|\"[^\"]*\"|`[^`]*`|\u2018[^\u2019]*\u2019|\u201c[^\u201d]*\u201d"
)
_CALL = re.compile(r"\b\w+\([^)]*\)")
_IDENTIFIER = re.compile(r"\b(?=\w*[_\d])\w+\b|\b[a-z]+[A-Z]\w*\b|\b[A-Z]{2,}\w*\b")
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
_NAME = re.compile(r"(?<=[^.!?:\s] )[A-Z][\w'-]*")
_PATH = re.compile(r"\S+[./]\S+")


def template(text: str) -> str:
    """A text with its values masked: what stays is the template it was written from."""
    masked = _QUOTED.sub("V", text.strip())
    masked = _CALL.sub("C", masked)
    masked = _PATH.sub("P", masked)
    masked = _IDENTIFIER.sub("X", masked)
    masked = _NUMBER.sub("N", masked)
    masked = _NAME.sub("X", masked)
    return re.sub(r"\s+", " ", masked).lower()


def first_sentence(text: str) -> str:
    """A text's first sentence."""
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def template_concentration(texts: Sequence[str]) -> tuple[float, str]:
    """The share of the most common template among the texts, and that template."""
    if not texts:
        return 0.0, ""
    counts = Counter(template(text) for text in texts)
    name, count = counts.most_common(1)[0]
    return count / len(texts), name


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


_CUT_END = re.compile(r"^(?:$|\.{3}|…|[\"'`;,)\]}]|\s*$)")


def cuts_value(reply: str, results: Iterable[Any]) -> bool:
    """Whether a reply shows a result's text value only as a cut-off prefix.

    A value of at least 12 characters that the reply does not contain whole, while it contains
    its first 10 or more characters followed by the end of the reply, an ellipsis, a quote or a
    separator, was cut mid-string; quoting a text's first whole line is not a cut.
    """
    for value in {text for result in results for text in _strings(result)}:
        if len(value) < 12 or value in reply:
            continue
        low, high = 10, len(value) - 1
        if value[:low] not in reply:
            continue
        while low < high:  # the longest prefix of the value that the reply contains
            middle = (low + high + 1) // 2
            if value[:middle] in reply:
                low = middle
            else:
                high = middle - 1
        prefix = value[:low]
        if value[low:low + 1] == "\n" or value[low:].strip() == "":
            continue
        position = reply.find(prefix)
        while position >= 0:
            if _CUT_END.match(reply[position + len(prefix):]):
                return True
            position = reply.find(prefix, position + 1)
    return False


def cut_reply_share(replies: Sequence[ReplySample]) -> float:
    """The share of replies that cut a value."""
    if not replies:
        return 0.0
    return sum(cuts_value(reply.text, reply.results) for reply in replies) / len(replies)


# ---------------------------------------------------------------------- corpora


def measure(
    user_turns: Sequence[UserTurnSample],
    reasoning: Sequence[str],
    replies: Sequence[ReplySample],
) -> LanguageFigures:
    """Every language figure of a corpus (each on a content-seeded sample)."""
    turns = sample(user_turns, key=lambda turn: turn.text)
    texts = [turn.text for turn in turns]
    messages = sample([text for text in reasoning if text.strip()])
    closing = sample([reply for reply in replies if reply.text.strip()],
                     key=lambda reply: reply.text)
    opener_share, openers = top_openers(texts)
    reasoning_share, reasoning_template = template_concentration(messages)
    reply_share, reply_template = template_concentration(
        [first_sentence(reply.text) for reply in closing]
    )
    return LanguageFigures(
        user_turns=len(texts),
        reasoning_messages=len(messages),
        replies=len(closing),
        distinct_2=round(distinct_n(texts, 2), 4),
        distinct_3=round(distinct_n(texts, 3), 4),
        distinct_prefixes=round(distinct_prefixes(texts), 4),
        top_opener_share=round(opener_share, 4),
        dictation_share=round(dictation_share(turns), 4),
        reasoning_template_share=round(reasoning_share, 4),
        reply_template_share=round(reply_share, 4),
        cut_reply_share=round(cut_reply_share(closing), 4),
        top_openers=openers,
        top_reasoning_template=reasoning_template[:200],
        top_reply_template=reply_template[:200],
    )


def _call_values(calls: Iterable[str]) -> list[tuple[str, Any]]:
    values: list[tuple[str, Any]] = []
    for text in calls:
        try:
            parsed = parse_calls(text)
        except Exception:  # a ground truth that does not parse simply states nothing checkable
            continue
        values.extend((name, value) for call in parsed for name, value in call.kwargs.items())
    return values


def dialogue_samples(
    dialogues: Sequence[VerifiedDialogue],
) -> tuple[list[UserTurnSample], list[str], list[ReplySample]]:
    """User turns (with their round's call values), reasoning messages and replies."""
    turns: list[UserTurnSample] = []
    reasoning: list[str] = []
    replies: list[ReplySample] = []
    for dialogue in dialogues:
        truth: dict[int, list[str]] = {}
        for turn in dialogue.turns:
            truth.setdefault(turn.round_index, []).extend(turn.ground_truth)
        for turn in dialogue.turns:
            values = tuple(_call_values(truth.get(turn.round_index, [])))
            turns.append(UserTurnSample(turn.user, values))
            reasoning.extend(step.reasoning for step in turn.steps if step.reasoning.strip())
            if turn.mode == "act" and turn.reply.strip():
                results = tuple(result for step in turn.steps for result in step.results)
                replies.append(ReplySample(turn.reply, results))
    return turns, reasoning, replies


def measure_dialogues(dialogues: Sequence[VerifiedDialogue]) -> LanguageFigures:
    """The language figures of curated dialogues."""
    return measure(*dialogue_samples(dialogues))


# ---------------------------------------------------------------------- checks


LANGUAGE_LIMITS: dict[str, tuple[str, float]] = {
    "distinct_prefixes": (">=", MIN_DISTINCT_PREFIXES),
    "distinct_3": (">=", MIN_DISTINCT_3),
    "top_opener_share": ("<=", MAX_TOP_OPENER_SHARE),
    "dictation_share": ("<=", MAX_DICTATION_SHARE),
    "reasoning_template_share": ("<=", MAX_REASONING_TEMPLATE_SHARE),
    "reply_template_share": ("<=", MAX_REPLY_TEMPLATE_SHARE),
    "cut_reply_share": ("<=", MAX_CUT_REPLY_SHARE),
}
_DESCRIPTIONS = {
    "distinct_prefixes": "User turns start differently: distinct 4-word prefixes",
    "distinct_3": "User turns vary in wording: distinct word 3-grams",
    "top_opener_share": "Few user turns open like the ten most common openers",
    "dictation_share": "Few user turns dictate a value after its parameter's name",
    "reasoning_template_share": "No reasoning template (values masked) dominates",
    "reply_template_share": "No closing-reply template (values masked) dominates",
    "cut_reply_share": "No closing reply cuts a value mid-string",
}
LANGUAGE_CHECKS = tuple(
    CheckSpec(
        f"language_{name}",
        f"{_DESCRIPTIONS[name]} ({'at least' if op == '>=' else 'at most'} {bound:g}).",
        severity="warn",
    )
    for name, (op, bound) in LANGUAGE_LIMITS.items()
)


def within_limit(name: str, value: float) -> bool:
    """Whether one figure meets its threshold."""
    op, bound = LANGUAGE_LIMITS[name]
    return value >= bound if op == ">=" else value <= bound


def judge_language(figures: LanguageFigures) -> list[Verdict]:
    """One WARN verdict per language figure with a threshold.

    An empty corpus passes: there is no text to judge.
    """
    found = figures.as_dict()
    verdicts = []
    for spec, (name, (op, bound)) in zip(LANGUAGE_CHECKS, LANGUAGE_LIMITS.items(), strict=True):
        value = found[name]
        empty = figures.user_turns == 0
        verdicts.append(spec.verdict(
            empty or within_limit(name, value), value=value, threshold=f"{op} {bound:g}",
            user_turns=figures.user_turns,
        ))
    return verdicts


def language_rows(figures: LanguageFigures) -> list[dict[str, Any]]:
    """The figures as report rows: measure, value, threshold, status."""
    found = figures.as_dict()
    rows: list[dict[str, Any]] = [
        {"measure": "user turns measured", "value": figures.user_turns},
        {"measure": "distinct-2 (user turns)", "value": figures.distinct_2},
    ]
    labels = {
        "distinct_3": "distinct-3 (user turns)",
        "distinct_prefixes": "distinct 4-word prefixes",
        "top_opener_share": "turns opening with a top-10 opener",
        "dictation_share": "turns dictating a value after its parameter name",
        "reasoning_template_share": "most common reasoning template",
        "reply_template_share": "most common reply template",
        "cut_reply_share": "replies that cut a value",
    }
    for name, label in labels.items():
        op, bound = LANGUAGE_LIMITS[name]
        rows.append({
            "measure": label, "value": found[name], "threshold": f"{op} {bound:g}",
            "status": "ok" if within_limit(name, found[name]) else "WARN",
        })
    rows.append({"measure": "top openers", "value": "; ".join(figures.top_openers[:5])})
    rows.append({"measure": "top reasoning template", "value": figures.top_reasoning_template})
    return rows


def bfcl_user_turns(
    questions: Sequence[Mapping[str, Any]], answers: Mapping[str, Sequence[Sequence[str]]]
) -> list[UserTurnSample]:
    """BFCL multi-turn entries' user turns with their ground-truth values (for comparison)."""
    turns = []
    for entry in questions:
        truth = answers.get(entry["id"], [])
        for index, messages in enumerate(entry["question"]):
            values = tuple(_call_values(truth[index])) if index < len(truth) else ()
            turns.extend(
                UserTurnSample(message["content"], values)
                for message in messages
                if message.get("role") == "user"
            )
    return turns
