"""Which semantic value type each parameter has, inferred from what its tool says about it.

The rules read the parameter's name, its description, its JSON type and documented set, the
tool's name and the values the tool's code accepts (mined literals). The first rule that
matches decides, and the decision keeps its reason, so the tool catalog can show why a
parameter is a `city` and a pack can override it (`parameter_types:` in its pack config).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from funreason_assets.lib.value_types import VALUE_TYPES


@dataclass(frozen=True)
class TypedParameter:
    """A parameter's semantic type and why it has it."""

    tool: str
    parameter: str
    value_type: str
    reason: str


@dataclass(frozen=True)
class _Facts:
    tool: str
    name: str
    words: str
    description: str
    json_type: str | None
    item_type: str | None
    enum: bool
    domain: bool
    options: tuple[str, ...]


Rule = tuple[str, Callable[[_Facts], bool], str]


def _has(facts: _Facts, *phrases: str) -> bool:
    return any(phrase in facts.words for phrase in phrases)


def _in_description(facts: _Facts, *phrases: str) -> bool:
    return any(phrase in facts.description for phrase in phrases)


def _is(facts: _Facts, *names: str) -> bool:
    return facts.name in names


# Ordered: the first matching rule decides. (name of the type, predicate, reason)
RULES: list[Rule] = [
    ("boolean", lambda f: f.json_type == "boolean", "a boolean parameter"),
    ("ticket_updates", lambda f: f.json_type == "object" and _has(f, "update"),
     "an object of fields to update"),
    ("enum", lambda f: f.enum, "a documented set of values"),
    ("enum", lambda f: bool(f.options), "options listed in the description"),
    ("enum", lambda f: f.domain and f.json_type == "string"
     and _has(f, "class", "mode", "type", "option"), "a kind whose values the code names"),
    ("boolean_text", lambda f: f.json_type == "string" and _in_description(f, "if true"),
     "text that is true or false"),
    ("timestamp", lambda f: _in_description(f, "yyyy-mm-ddthh"), "a documented timestamp format"),
    ("birth_date", lambda f: _has(f, "birth"), "a date of birth"),
    ("expiry_date", lambda f: _has(f, "expiration", "expiry"), "a card's expiry date"),
    ("date", lambda f: _in_description(f, "yyyy-mm-dd") or f.name.endswith("date"),
     "a documented date format"),
    ("card_verification_number", lambda f: _has(f, "verification number", "cvv"),
     "a card verification code"),
    ("card_number", lambda f: _has(f, "card number"), "a card number"),
    ("passport_number", lambda f: _has(f, "passport"), "a passport number"),
    ("card_id", lambda f: _has(f, "card id"), "a registered card's id"),
    ("booking_id", lambda f: _has(f, "booking id"), "a booking's id"),
    ("insurance_id", lambda f: _has(f, "insurance id"), "an insurance's id"),
    ("insurance_type", lambda f: _has(f, "insurance type"), "a kind of insurance"),
    ("money_amount", lambda f: _has(f, "insurance cost", "budget limit"), "an amount of money"),
    ("order_id", lambda f: _has(f, "order id"), "an order's id"),
    ("ticket_id", lambda f: _has(f, "ticket id"), "a ticket's id"),
    ("tweet_id", lambda f: _has(f, "tweet id"), "a tweet's id"),
    ("user_id", lambda f: _has(f, "user id", "receiver id", "sender id"), "a user id"),
    ("access_token", lambda f: _has(f, "access token"), "a token a login returns"),
    ("refresh_token", lambda f: _has(f, "refresh token"), "an OAuth refresh token"),
    ("client_secret", lambda f: _has(f, "client secret"), "an OAuth client secret"),
    ("client_id", lambda f: _has(f, "client id"), "an OAuth client id"),
    ("password", lambda f: _has(f, "password"), "a password"),
    ("username_list", lambda f: f.json_type == "array" and _has(f, "username"),
     "a list of user names"),
    ("mention_list", lambda f: f.json_type == "array" and _in_description(f, "start with @"),
     "@mentions"),
    ("hashtag_list", lambda f: f.json_type == "array" and _in_description(f, "start with #"),
     "hashtags"),
    # MessageAPI keys its users by first name ("User name of the user." is "Alice"), unlike
    # the accounts whose "Username" is a login.
    ("first_name", lambda f: _in_description(f, "user name of"),
     "a messaging contact's name (users are keyed by first name)"),
    ("username", lambda f: _has(f, "username", "user name") or _is(f, "user"), "a user name"),
    ("first_name", lambda f: _has(f, "first name"), "a first name"),
    ("last_name", lambda f: _has(f, "last name"), "a last name"),
    ("person_name", lambda f: _has(f, "cardholder", "holder name", "full name"),
     "a person's full name"),
    ("airport_code", lambda f: _in_description(f, "airport", "iata")
     or (_has(f, "travel from", "travel to") and f.json_type == "string"), "an airport"),
    ("zipcode", lambda f: _in_description(f, "zipcode", "zip code", "postal"), "a zipcode"),
    ("street_address", lambda f: _in_description(f, "street, city"), "a street address"),
    ("city", lambda f: _has(f, "city", "location") and f.json_type == "string", "a city"),
    ("ticker_list", lambda f: f.json_type == "array" and _in_description(f, "symbol"),
     "stock symbols"),
    ("ticker", lambda f: _in_description(f, "symbol") or _has(f, "stock"), "a stock symbol"),
    ("sector", lambda f: _has(f, "sector"), "a market sector"),
    ("company_name", lambda f: _in_description(f, "name of the company"), "a company name"),
    ("stock_price", lambda f: _has(f, "price") and f.json_type in ("number", "integer"),
     "a price"),
    ("share_quantity", lambda f: f.name == "amount" and f.json_type == "integer"
     and _in_description(f, "share"), "a number of shares"),
    ("percentage", lambda f: _in_description(f, "percentage", "percent"), "a percentage"),
    ("money_amount", lambda f: _has(f, "amount", "balance", "value to convert")
     and _in_description(f, "fund", "withdraw", "account", "convert", "usd")
     and f.json_type in ("number", "integer"), "an amount of money"),
    ("ticket_status", lambda f: _has(f, "status") and f.json_type == "string",
     "a ticket status"),
    ("priority", lambda f: _has(f, "priority"), "a priority"),
    ("ticket_title", lambda f: _is(f, "title"), "a title"),
    ("ticket_resolution", lambda f: _has(f, "resolution"), "a resolution"),
    ("support_message", lambda f: _is(f, "message") and _in_description(f, "customer support"),
     "a message to support"),
    ("ticket_description", lambda f: _is(f, "description"), "a description"),
    ("message_text", lambda f: _is(f, "message") and f.json_type == "string", "a message"),
    ("comment_text", lambda f: _has(f, "comment content"), "a comment"),
    ("tweet_text", lambda f: f.tool == "post_tweet" and _is(f, "content"), "a tweet"),
    ("log_messages", lambda f: f.json_type == "array" and _has(f, "message"), "log lines"),
    ("search_term", lambda f: _has(f, "keyword", "pattern")
     or (f.tool == "find" and _is(f, "name")), "a search term"),
    ("search_path", lambda f: _is(f, "path"), "where a search starts"),
    ("file_text", lambda f: _is(f, "content"), "text written into a file"),
    ("new_file_name", lambda f: _has(f, "file name") and _in_description(f, "new file"),
     "a name for a new file"),
    ("new_directory_name", lambda f: _has(f, "dir name") and _in_description(f, "new director"),
     "a name for a new directory"),
    ("directory_name", lambda f: _has(f, "folder", "dir name"), "a directory"),
    ("file_or_directory", lambda f: _in_description(f, "file or directory"),
     "a file or a directory"),
    ("file_name", lambda f: _has(f, "file name", "file"), "a file"),
    ("unit", lambda f: _has(f, "unit"), "a unit"),
    ("precision", lambda f: _is(f, "precision"), "a precision"),
    ("decimal_places", lambda f: _has(f, "decimal places"), "decimal places"),
    ("line_count", lambda f: _is(f, "lines"), "a number of lines"),
    ("temperature", lambda f: _is(f, "temperature"), "a temperature"),
    ("fan_speed", lambda f: _has(f, "fan speed"), "a fan speed"),
    ("cruise_speed", lambda f: _is(f, "speed"), "a speed"),
    ("following_distance", lambda f: _has(f, "distance to next vehicle"),
     "a following distance"),
    ("distance", lambda f: _is(f, "distance"), "a distance"),
    ("fuel_amount", lambda f: _has(f, "fuel amount"), "an amount of fuel"),
    ("volume", lambda f: _is(f, "gallon", "liter"), "an amount to convert"),
    ("pedal_position", lambda f: _has(f, "pedal position"), "a pedal position"),
    ("number_list", lambda f: f.json_type == "array" and f.item_type in ("number", "integer"),
     "a list of numbers"),
    ("exponent", lambda f: _is(f, "exponent"), "an exponent"),
    ("log_base", lambda f: f.tool == "logarithm" and _is(f, "base"), "a logarithm's base"),
    # Generic kinds, for packs whose names the rules above do not know.
    ("identifier", lambda f: f.words.endswith(" id") or f.name == "id", "an entity's id"),
    ("username", lambda f: _has(f, "customer", "account"), "an account name"),
    ("search_term", lambda f: _has(f, "query", "search"), "a search term"),
    ("quantity", lambda f: _has(f, "quantity", "count", "limit")
     and f.json_type == "integer", "a count of items"),
    ("number", lambda f: f.json_type in ("number", "integer"), "a number"),
    ("text", lambda f: f.json_type == "string", "text of no more specific kind"),
]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_OPTIONS_LISTED = re.compile(
    r"(?:options are|the options|one of)\s*:?\s*([\w\-]+(?:\s*,\s*[\w\-]+)+)", re.IGNORECASE
)
_OPTIONS_SLASHED = re.compile(r"\(([A-Za-z]+(?:/[A-Za-z]+)+)\)")
_OPTIONS_QUOTED = re.compile(r"'(\w+)' for ")


def documented_options(description: str) -> tuple[str, ...]:
    """Values a description lists as the only options ("Options are: a, b", "(Buy/Sell)")."""
    for pattern, split in ((_OPTIONS_LISTED, ","), (_OPTIONS_SLASHED, "/")):
        match = pattern.search(description)
        if match:
            options = [part.strip() for part in match.group(1).split(split)]
            return tuple(dict.fromkeys(option for option in options if option))
    quoted = _OPTIONS_QUOTED.findall(description)
    return tuple(dict.fromkeys(quoted)) if len(quoted) >= 2 else ()


def _words(name: str) -> str:
    return _CAMEL.sub(" ", name).replace("_", " ").lower()


def infer_parameter_type(
    tool: str, parameter: str, schema: Mapping[str, Any], domain: bool = False
) -> TypedParameter:
    """The semantic type of one parameter, with the rule that decided it.

    Args:
        tool: The tool's name.
        parameter: The parameter's name.
        schema: The parameter's JSON schema.
        domain: Whether the tool's code names the values it accepts (mined literals).

    Raises:
        LookupError: If no rule matches (a pack must then declare the type).
    """
    items = schema.get("items") or {}
    facts = _Facts(
        tool=tool,
        name=parameter,
        words=_words(parameter),
        description=str(schema.get("description", "")).lower(),
        json_type=schema.get("type"),
        item_type=items.get("type"),
        enum=bool(schema.get("enum") or items.get("enum")),
        domain=domain,
        options=documented_options(str(schema.get("description", ""))),
    )
    for type_name, predicate, reason in RULES:
        if predicate(facts):
            return TypedParameter(tool, parameter, type_name, reason)
    raise LookupError(
        f"{tool}.{parameter}: no value type fits; declare it under `parameter_types:` in the "
        "pack config"
    )


def parameter_types(
    tools: Mapping[str, Mapping[str, Any]],
    domains: Mapping[str, Mapping[str, Any]] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, dict[str, TypedParameter]]:
    """Every parameter's type: overrides (`tool.parameter: type`) first, then inference.

    Args:
        tools: Tool name -> its JSON-schema parameters object.
        domains: Tool name -> parameter -> values the code accepts (mined literals).
        overrides: `tool.parameter` -> type name, from the pack config.

    Raises:
        KeyError: If an override names an unknown type.
        LookupError: If a parameter has neither an override nor a matching rule.
    """
    domains = domains or {}
    overrides = dict(overrides or {})
    typed: dict[str, dict[str, TypedParameter]] = {}
    for tool, parameters in tools.items():
        typed[tool] = {}
        for name, schema in (parameters.get("properties") or {}).items():
            key = f"{tool}.{name}"
            if key in overrides:
                if overrides[key] not in VALUE_TYPES:
                    raise KeyError(f"{key}: unknown value type {overrides[key]!r}")
                typed[tool][name] = TypedParameter(tool, name, overrides[key], "pack override")
                continue
            typed[tool][name] = infer_parameter_type(
                tool, name, schema, bool(domains.get(tool, {}).get(name))
            )
    return typed
