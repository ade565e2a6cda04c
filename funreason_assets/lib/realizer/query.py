"""User turns: a round's calls said as one natural request in the dialogue's voice.

The target's intent is the request; prerequisite steps the user must speak for (they take a
value only the user knows) become context clauses ("in the docs folder", "as alice with
pass123") or a first request ("make a new folder temp and then move..."); calls after the
target become further sentences. A value produced by a call of the round is referred to by
what it is ("Ann" for the id of Ann, "the new ticket"), a value an earlier turn stated by
description ("that file"), and a value the query leaves for the model to infer is said the
way the state knows it (the city for its airport). The realizer checks its own draft with the
query rules' functions and redraws (up to `ATTEMPTS` times) when a draft breaks one.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from funreason_assets.lib.realizer import templates, voice
from funreason_assets.lib.realizer.intents import INTENTS, Intent, fallback_intent
from funreason_assets.lib.realizer.values import carries, join_words, mentions, say
from funreason_assets.lib.records import AdvancedTool, ExecutedCall, PlannedRound

ATTEMPTS = 12

# Words for an entity of a value type ("that file"); ids are said with their noun.
NOUNS = {
    "file_name": "file", "new_file_name": "file", "file_or_directory": "file",
    "directory_name": "folder", "new_directory_name": "folder", "search_path": "folder",
    "ticket_id": "ticket", "booking_id": "booking", "order_id": "order", "tweet_id": "tweet",
    "card_id": "card", "insurance_id": "insurance policy", "user_id": "user",
    "ticker": "stock", "ticker_list": "stocks", "username": "account", "city": "city",
    "airport_code": "airport", "zipcode": "zip code", "date": "date", "number": "number",
    "money_amount": "amount", "company_name": "company", "first_name": "person",
    "person_name": "person", "sector": "sector",
}
_ID_TYPES = {"ticket_id", "booking_id", "order_id", "tweet_id", "card_id", "insurance_id",
             "user_id"}
# A value a call of this round makes, referred to by what it is.
_FRESH = {
    "ticket_id": ("the new ticket", "that ticket", "the ticket in question", "this ticket"),
    "booking_id": ("the new booking", "that booking", "the flight I'm booking",
                   "that reservation", "the booking in question"),
    "order_id": ("that order", "the order", "the order in question", "this order"),
    "tweet_id": ("the new tweet", "that tweet", "that post", "the tweet in question"),
    "card_id": ("my card", "the card on file", "the card I just added", "that card",
                "my registered card"),
    "insurance_id": ("the insurance", "that policy"),
    "user_id": ("them",),
    "stock_price": ("the current price", "the going price", "market price"),
    "number": ("the result", "that result", "the answer"),
    "ticker_list": ("those stocks", "the stocks you find"),
    "ticker": ("that stock", "the stock"),
    "money_amount": ("that amount", "the cost", "the amount"),
    "airport_code": ("the nearest airport", "the closest airport"),
    "zipcode": ("its zip code",),
}
# A value an earlier turn produced or stated, referred to by what it is.
_EARLIER = ("that {noun}", "the same {noun}", "the {noun} from before", "that {noun} again",
            "the {noun} we just dealt with", "the {noun} I mentioned", "that very {noun}")
# Producers whose inputs name what they return: the consumer says the input instead.
_NAMED_BY_INPUT = {
    "get_user_id": "{user}",
    "add_contact": "{user_name}",
    "get_symbol_by_name": "{name}",
    "get_nearest_airport_by_city": "{location}",
    "get_zipcode_based_on_city": "{city}",
    "get_available_stocks": "the {sector} stocks",
}
# A value left out of a missing-parameter query, said vaguely.
_VAGUE = {
    "file_name": "a file", "new_file_name": "a new file", "file_or_directory": "something",
    "directory_name": "a folder", "new_directory_name": "a new folder",
    "search_path": "somewhere", "message_text": "something", "tweet_text": "something",
    "comment_text": "something", "search_term": "something", "number": "a number",
    "number_list": "some numbers", "date": "a date", "city": "a city",
    "airport_code": "somewhere", "ticker": "a stock", "money_amount": "some money",
    "share_quantity": "some shares", "username": "someone", "first_name": "someone",
    "person_name": "someone", "password": "my password", "line_count": "a few",
    "percentage": "some", "precision": "a few", "decimal_places": "a few",
    "quantity": "a few", "priority": "some", "fan_speed": "some",
    "temperature": "a comfortable", "distance": "some", "fuel_amount": "a few",
    "volume": "some", "stock_price": "some price",
}
# A follow-up shorter than this reads as a fragment (curation drops turns under 12 characters).
MIN_FOLLOW_UP = 16
_FOLLOW_VALUE = (
    "Oh, sorry: {v}.", "It's {v}, sorry.", "Right, I meant {v}.", "{V}, sorry about that.",
    "Use {v}, please.", "Ah, forgot that: {v}.", "Make it {v}, please.",
    "{V} — sorry about that.", "Sorry! {V}.", "That would be {v}.", "Oops. It's {v}.",
    "Go with {v}.", "Should've said: {v}.", "My bad, {v}.", "Let's go with {v}.",
    "Good question. {V}.",
)
_FOLLOW_FUNCTION = (
    "It should work now, please go ahead.", "Okay, that's available again. Try it now.",
    "You have access to it now, so go ahead.", "I've enabled it. Please continue.",
    "Try again now, it should be there.", "It's back up. Go for it.",
    "Access is sorted on my side now; please carry on.", "Should be fixed now. Please retry.",
    "Give it another go, it's turned on now.", "Alright, it's enabled. Can you finish it?",
    "IT just switched that on for me, so you can do it now.", "It's there now. Carry on.",
    "I got the permission sorted. Please do it.", "Done on my end, you should see it now.",
    "That feature's been turned back on. Go ahead, please.", "Fixed! Please try once more.",
    "Now it's enabled for my account. Can you pick it up from there?",
    "The admin just granted it. Please finish what I asked.",
)
_THEN = ("Then {x}", "After that, {x}", "Also {x}", "And {x}", "Once that's done, {x}",
         "Oh, and {x}", "Plus {x}", "When that's through, {x}", "Afterwards {x}",
         "While you're at it, {x}", "On top of that, {x}", "Following up, {x}",
         "Last thing: {x}", "Then please {x}", "After you're done, {x}", "Separately, {x}")
_THEN_ASKING = ("Also, {x}", "And {x}", "Oh, and {x}", "Plus, {x}", "One more: {x}",
                "Then: {x}", "{x}", "Also tell me, {x}", "And while you're there, {x}")
_PRE_JOIN = ("{pre} and then {main}", "{pre}, then {main}", "first {pre}, and after that "
             "{main}", "{pre} before you {main}", "{pre} and {main}", "{pre}; once that's "
             "done, {main}", "start by making sure to {pre}, then {main}", "{pre}, and when "
             "that's through, {main}", "{pre}; after that, {main}")
_CONTEXT_PROBABILITY = {"formal": 0.5, "casual": 0.4, "terse": 0.1, "chatty": 0.85,
                        "polite": 0.5, "direct": 0.2}


@dataclass(frozen=True)
class QueryRequest:
    """Everything the realizer knows about the round whose user turn it writes.

    Attributes:
        tool: The round's advanced tool (its inputs are what the user states).
        planned: The round's ground-truth calls.
        omitted: A missing-parameter round's input left out until the follow-up.
        inferable: Inputs left for the model to infer: name -> reason (`earlier_turn:...`,
            `airport_of_city:<city>`, ...); said as the reason's entity or by description.
        earlier_queries: The dialogue's earlier user turns.
        earlier_did: The previous round's outcome in words ("booked the flight"), or "".
        persona: The scenario's persona (may be empty).
        produced: Canonical JSON of values only tools produced (never to be stated).
        voice_key: Seeds the voice when there is no persona (the plan id).
        value_type: A parameter's semantic type by (tool, parameter).
        goal: A tool's goal phrase by name (for tools without an intent).
        hidden: The advanced tool's intermediate tools (never named).
        builds_on: Whether the round takes a value an earlier round passed or returned; a
            turn that does not says nothing like "now that you booked it".
    """

    tool: AdvancedTool
    planned: PlannedRound
    omitted: Mapping[str, Any]
    inferable: Mapping[str, str]
    earlier_queries: Sequence[str]
    earlier_did: str
    persona: Mapping[str, Any]
    produced: frozenset[str]
    voice_key: str
    value_type: Callable[[str, str], str]
    goal: Callable[[str], str]
    hidden: Sequence[str] = field(default_factory=tuple)
    builds_on: bool = True


def intent_of(tool: str, goal: Callable[[str], str]) -> Intent:
    """The tool's intent, or one made from its doc."""
    return INTENTS.get(tool) or fallback_intent(goal(tool))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def say_typed(value: Any, value_type: str, intent: Intent, param: str, quote: str) -> str:
    """A value stated for a parameter: enum values in words, ids with their noun."""
    words = intent.words.get(param, {})
    if isinstance(value, str) and value in words:
        return words[value]
    if isinstance(value, list) and words and all(isinstance(v, str) for v in value):
        return join_words([words.get(item, item) for item in value])
    text = say(value, value_type, quote)
    if value_type in _ID_TYPES and not isinstance(value, list | dict):
        return f"{NOUNS[value_type]} {text}"
    return text


def inferred_text(reason: str, value_type: str, rng: random.Random) -> str:
    """How a query says a value it leaves for the model to infer."""
    kind, _, entity = reason.partition(":")
    entity = entity.strip()
    if kind in {"airport_of_city", "zipcode_of_city", "user_id_of", "ticker_of_company"}:
        return entity
    if kind == "ticket_titled":
        return rng.choice(("the '{e}' ticket", "my ticket '{e}'", "the ticket about '{e}'",
                           "the ticket called '{e}'")).format(e=entity)
    if kind == "tweet_saying":
        return rng.choice(("my tweet '{e}'", "the tweet that says '{e}'",
                           "my post '{e}'")).format(e=entity)
    noun = NOUNS.get(value_type, "one")
    return rng.choice(_EARLIER).format(noun=noun)


@dataclass
class _Round:
    """The slot texts of a round's calls, and which inputs and producers they speak for."""

    texts: dict[int, dict[str, str]] = field(default_factory=dict)
    flags: dict[int, dict[str, Any]] = field(default_factory=dict)
    inputs_of: dict[int, set[str]] = field(default_factory=dict)
    consumed: set[int] = field(default_factory=set)


def _slot_texts(request: QueryRequest, rng: random.Random, quote: str) -> _Round:
    tool = request.tool
    inputs = {item.name: item for item in tool.inputs}
    bindings = {sub.index: sub.bindings for sub in tool.decomposition}
    calls = {call.index: call for call in request.planned.executed_calls()}
    found = _Round()
    for call in calls.values():
        intent = intent_of(call.tool, request.goal)
        texts: dict[str, str] = {}
        flags: dict[str, Any] = {}
        used: set[str] = set()
        for argument in call.arguments:
            flags[argument.name] = argument.value
            if isinstance(argument.value, bool) or request.value_type(
                call.tool, argument.name
            ) == "boolean_text":
                flags[argument.name] = str(argument.value).lower() == "true"
                continue
            binding = bindings.get(call.index, {}).get(argument.name, "")
            value_type = request.value_type(call.tool, argument.name)
            kind, _, rest = binding.partition(":")
            text: str | None
            if kind == "input":
                used.add(rest)
                value = inputs[rest].value if rest in inputs else argument.value
                if rest in request.omitted:
                    text = _VAGUE.get(value_type, "something")
                elif rest in request.inferable:
                    text = inferred_text(request.inferable[rest], value_type, rng)
                else:
                    text = say_typed(value, value_type, intent, argument.name, quote)
            elif kind == "call":
                producer = calls.get(int(rest.split(":")[0]))
                text = _produced_reference(request, producer, argument.value, value_type,
                                           intent, argument.name, quote, rng, found)
            else:
                text = _earlier_reference(request, argument.value, value_type, intent,
                                          argument.name, quote, rng)
            if text is not None:
                texts[argument.name] = text
        found.texts[call.index] = texts
        found.flags[call.index] = flags
        found.inputs_of[call.index] = used
    return found


def _statable(request: QueryRequest, value: Any) -> bool:
    return not isinstance(value, dict | list) and _key(value) not in request.produced


def _produced_reference(
    request: QueryRequest,
    producer: ExecutedCall | None,
    value: Any,
    value_type: str,
    intent: Intent,
    param: str,
    quote: str,
    rng: random.Random,
    found: _Round,
) -> str | None:
    if producer is not None and producer.tool in _NAMED_BY_INPUT:
        own = {a.name: a.value for a in producer.arguments}
        bound = {sub.index: sub.bindings for sub in request.tool.decomposition}
        names = templates.slots(_NAMED_BY_INPUT[producer.tool])
        inputs = [bound.get(producer.index, {}).get(name, "") for name in names]
        if all(item.startswith("input:") and item[6:] not in request.omitted for item in inputs):
            texts = {}
            for name, item in zip(names, inputs, strict=True):
                input_name = item[6:]
                if input_name in request.inferable:
                    texts[name] = inferred_text(request.inferable[input_name], "", rng)
                else:
                    texts[name] = say(own.get(name), request.value_type(producer.tool, name),
                                      quote)
            found.consumed.add(producer.index)
            return templates.fill(_NAMED_BY_INPUT[producer.tool], texts, {})
    if value_type == "access_token":
        return None
    if _statable(request, value) and value_type not in {"stock_price", "number"}:
        return say_typed(value, value_type, intent, param, quote)
    options = _FRESH.get(value_type)
    if options:
        return rng.choice(options)
    return f"the {NOUNS.get(value_type, 'result')}"


def _earlier_reference(
    request: QueryRequest, value: Any, value_type: str, intent: Intent, param: str, quote: str,
    rng: random.Random,
) -> str | None:
    if value_type == "access_token":
        return None
    if _statable(request, value):
        return say_typed(value, value_type, intent, param, quote)
    return rng.choice(_EARLIER).format(noun=NOUNS.get(value_type, "one"))


def _clause(
    templates_: Sequence[str], texts: Mapping[str, str], flags: Mapping[str, Any],
    rng: random.Random, statement: bool = False,
) -> str | None:
    """A filled template that states as many of the call's texts as possible.

    With `statement`, questions are used only when the tool has no other phrasing.
    """
    options = []
    for template in templates_:
        filled = templates.fill(template, texts, flags)
        if filled is not None:
            covered = len(templates.slots(template) & set(texts))
            options.append((covered, not (statement and filled.endswith("?")), filled))
    if not options:
        return None
    best = max((covered, plain) for covered, plain, _ in options)
    return rng.choice([filled for covered, plain, filled in options
                       if (covered, plain) == best])


def _any_clause(intent: Intent, texts: Mapping[str, str], flags: Mapping[str, Any],
                rng: random.Random, statement: bool = False) -> str:
    """A clause for the call, filling a parameter no template can do without vaguely."""
    clause = _clause(intent.ask, texts, flags, rng, statement)
    if clause is not None:
        return clause
    template = min(intent.ask, key=lambda t: len(templates.required_slots(t) - set(texts)))
    filler = {name: "it" for name in templates.required_slots(template)}
    return templates.fill(template, {**filler, **texts}, flags) or "do that"


def _with_values(clause: str, texts: Mapping[str, str]) -> str:
    """A clause plus the texts it does not state (a request never silently drops a value)."""
    extra = [text for text in texts.values() if text and text.lower() not in clause.lower()]
    return clause + (" (" + ", ".join(extra) + ")" if extra else "")


def _compose(request: QueryRequest, rng: random.Random, style: voice.Voice) -> str:
    found = _slot_texts(request, rng, style.quote)
    calls = request.planned.executed_calls()
    target_position = next(i for i, c in enumerate(calls) if c.tool == request.planned.target)
    target = calls[target_position]
    target_intent = intent_of(target.tool, request.goal)
    main = _any_clause(target_intent, found.texts[target.index], found.flags[target.index], rng)
    main = _with_values(main, found.texts[target.index])
    spoken_inputs = set(found.inputs_of[target.index])
    context_clauses: list[str] = []
    first_steps: list[str] = []
    for call in calls[:target_position]:
        own = found.inputs_of[call.index]
        if call.index in found.consumed or not own or own <= spoken_inputs:
            continue
        intent = intent_of(call.tool, request.goal)
        texts, flags = found.texts[call.index], found.flags[call.index]
        clause = _clause(intent.ctx, texts, flags, rng) if intent.ctx else None
        if clause is not None and rng.random() < 0.85:
            context_clauses.append(_with_values(clause, texts))
        else:
            step = _any_clause(intent, texts, flags, rng, statement=True)
            first_steps.append(_with_values(step, texts).rstrip("?"))
        spoken_inputs |= own
    after: list[str] = []
    for call in calls[target_position + 1:]:
        intent = intent_of(call.tool, request.goal)
        texts = found.texts[call.index]
        clause = _any_clause(intent, texts, found.flags[call.index], rng)
        clause = _with_values(clause, texts)
        if clause not in after and clause != main:
            after.append(clause)
    text = _assemble(request, rng, style, main, context_clauses, first_steps, after,
                     target_intent.family)
    # A value no clause found room for is still the user's to give: add it in passing.
    tools = {call.index: call.tool for call in calls}
    unsaid = [
        say(item.value, _input_type(request, tools, item.used_by), style.quote)
        for item in request.tool.inputs
        if item.name not in request.omitted and item.name not in request.inferable
        and not carries(text, item.value, item.json_schema)
    ]
    if unsaid:
        text += " " + rng.choice(("(That's for {v}.)", "This is about {v}.", "It's {v}, by "
                                  "the way.", "Re: {v}.")).format(v=join_words(unsaid))
    return text


def _input_type(request: QueryRequest, tools: Mapping[int, str], used_by: Sequence[str]) -> str:
    """The value type of an input, from the first parameter that takes it."""
    if not used_by:
        return ""
    index, _, parameter = used_by[0].partition(".")
    tool = tools.get(int(index))
    return request.value_type(tool, parameter) if tool else ""


def _assemble(
    request: QueryRequest,
    rng: random.Random,
    style: voice.Voice,
    main: str,
    context_clauses: list[str],
    first_steps: list[str],
    after: list[str],
    family: str,
) -> str:
    question = main.endswith("?")
    body = main.rstrip("?")
    if first_steps:
        pre = join_words(first_steps)
        if question:
            body = f"{pre}. Then tell me: {body}"
        else:
            body = rng.choice(_PRE_JOIN).format(pre=pre, main=body)
    place = join_words(context_clauses)
    if place and rng.random() < 0.5:
        request_text = _frame(style, rng, body, question)
        request_text = f"{templates.capitalize(place)}, {_lower_first(request_text)}"
    elif place:
        request_text = _frame(style, rng, f"{body} {place}", question)
    else:
        request_text = _frame(style, rng, body, question)
    later = bool(request.earlier_queries)
    if later:
        did = request.earlier_did if request.builds_on else ""
        lead = voice.continuation(style, rng, did) if rng.random() < 0.6 else ""
    else:
        lead = voice.greeting(style, rng)
    scene = ""
    chance = _CONTEXT_PROBABILITY[style.name] * (0.5 if later else 1.0)
    if rng.random() < chance:
        scene = templates.capitalize(voice.context(style, family, rng))
    scene_first = bool(scene) and rng.random() < 0.6
    text = ""
    if lead:
        text = lead if lead.endswith(" ") else lead + " "
    if scene_first:
        text += _join(text, scene) + rng.choice((". ", " — ", ", so "))
    text = text + _join(text, request_text)
    for clause in after:
        if clause.endswith("?"):
            sentence = rng.choice(_THEN_ASKING).format(x=clause.rstrip("?"))
            text += " " + templates.capitalize(sentence) + "?"
        else:
            text += " " + templates.capitalize(rng.choice(_THEN).format(x=clause)) + "."
    if scene and not scene_first:
        text += " " + rng.choice(("{s}.", "({s}.)", "{s}, by the way.", "Context: {s}.")).format(
            s=scene)
    goodbye = voice.closer(style, rng)
    if goodbye:
        text += " " + goodbye
    return re.sub(r"\s+", " ", text).replace(" ,", ",").strip()


def _join(before: str, text: str) -> str:
    """A sentence part cased for what precedes it (a sentence start or a running clause)."""
    stripped = before.rstrip()
    if not stripped or stripped.endswith((".", "!", "?")):
        return templates.capitalize(text)
    return _lower_first(text)


def _frame(style: voice.Voice, rng: random.Random, body: str, question: bool) -> str:
    if question:
        return templates.capitalize(body) + "?"
    pattern = voice.frame(style, rng)
    return pattern.replace("{Ask}", templates.capitalize(body)).replace("{ask}", body)


def _lower_first(text: str) -> str:
    if text.startswith(("I ", "I'", "I\u2019")) or text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def problems(request: QueryRequest, query: str, follow_up: str | None) -> list[str]:
    """The query rules a draft breaks, as the realizer can check them itself."""
    found = []
    spoken = f"{query}\n{follow_up or ''}"
    for item in request.tool.inputs:
        if item.name in request.omitted or item.name in request.inferable:
            continue
        if not carries(spoken, item.value, item.json_schema):
            found.append(f"missing {item.name}")
    lowered = query.lower()
    for name in request.hidden:
        humanized = name.replace("_", " ").lower()
        if any(len(form) > 3 and form in lowered for form in {name.lower(), humanized}):
            found.append(f"names {name}")
    found.extend(
        "states the omitted value" for value in request.omitted.values() if mentions(query, value)
    )
    for key in request.produced:
        if mentions(query, json.loads(key)):
            found.append("states a produced value")
            break
    return found


def follow_up_text(
    request: QueryRequest, rng: random.Random,
) -> str | None:
    """The second user turn of a split round (None when the round is not split)."""
    if request.omitted:
        parts = []
        for name, value in request.omitted.items():
            item = next((i for i in request.tool.inputs if i.name == name), None)
            param = (item.used_by[0].split(".")[1] if item and item.used_by else name)
            tool = request.planned.target
            value_type = request.value_type(tool, param) if item else ""
            parts.append(say_typed(value, value_type, intent_of(tool, request.goal), param, "'"))
        value_text = " and ".join(parts)
        options = [pattern.replace("{V}", templates.capitalize(value_text))
                   .replace("{v}", value_text) for pattern in _FOLLOW_VALUE]
        return rng.choice([text for text in options if len(text) >= MIN_FOLLOW_UP] or options)
    if request.planned.variant == "missing_function":
        return rng.choice(_FOLLOW_FUNCTION)
    return None


def realize_query(rng: random.Random, request: QueryRequest) -> tuple[str, str | None]:
    """A round's user turn and its follow-up, redrawn until the realizer's checks pass."""
    style = voice.voice_for(request.persona, request.voice_key)
    best: tuple[str, str | None] | None = None
    for _ in range(ATTEMPTS):
        query = _compose(request, rng, style)
        follow_up = follow_up_text(request, rng)
        if best is None:
            best = (query, follow_up)
        if not problems(request, query, follow_up):
            return query, follow_up
    assert best is not None
    return best


def outcome_phrase(
    planned: PlannedRound, tool: AdvancedTool, goal: Callable[[str], str],
    value_type: Callable[[str, str], str], produced: frozenset[str],
) -> str:
    """A round's outcome in words ("moved 'a.txt' to 'docs'"), for the next turn to refer to."""
    target = planned.target_call()
    intent = intent_of(target.tool, goal)
    texts = {}
    for argument in target.arguments:
        if isinstance(argument.value, bool | dict | list):
            continue
        if _key(argument.value) in produced:
            continue
        texts[argument.name] = say_typed(
            argument.value, value_type(target.tool, argument.name), intent, argument.name, "'"
        )
    flags = {a.name: a.value for a in target.arguments}
    for template in intent.did:
        filled = templates.fill(template, texts, flags)
        if filled is not None:
            return filled.replace("your ", "my ")
    return ""


def call_goal(
    call: ExecutedCall,
    goal: Callable[[str], str],
    value_type: Callable[[str, str], str],
    left_out: Sequence[str] = (),
) -> str:
    """What a call does for the user, as a verb phrase with its values ("move 'a' into 'b'").

    Parameters in `left_out` are said vaguely (the value is not known yet).
    """
    intent = intent_of(call.tool, goal)
    texts = {}
    for argument in call.arguments:
        if isinstance(argument.value, bool):
            continue
        kind = value_type(call.tool, argument.name)
        if argument.name in left_out:
            texts[argument.name] = _VAGUE.get(kind, "something")
        elif not isinstance(argument.value, dict):
            texts[argument.name] = say_typed(argument.value, kind, intent, argument.name, "'")
    flags = {a.name: a.value for a in call.arguments}
    filled = [templates.fill(t, texts, flags) for t in intent.ask]
    statements = [f for f in filled if f and not f.endswith("?")]
    if statements:
        return statements[0]
    question = next((f for f in filled if f), intent.ask[0])
    return f"answer: {question}"
