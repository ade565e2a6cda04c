"""Seeded generators of realistic initial configs for the eight BFCL v3 classes.

Every generator takes a `random.Random` and the scenario's persona and returns a
JSON-serializable config in the shape the class's `_load_scenario` expects (the same shape
BFCL's test entries use). The persona makes the classes one world: the traveler, the ticket user,
the twitter account and the files all belong to the same person. Same seed, same scenario, in any
process: only the passed generator is used, never global randomness or time. A registered class
of a user pack generates with its pack's own generator (`class_generator`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from funreason_assets.lib.digests import canonical_digest
from funreason_assets.lib.packs import BFCL_STATELESS
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenarios import vocab
from funreason_assets.lib.scenarios.personas import (
    STOCKS_OF_SECTOR,
    TRADABLE_SYMBOLS,
    Persona,
    ascii_slug,
    draw_persona,
)

# A class's initial-config generator: the scenario's generator and persona in, a config out.
ConfigGenerator = Callable[[random.Random, Persona], dict[str, Any]]

# Leading words a topic phrase drops when it names a file ("the data migration" -> data_migration).
_TOPIC_ARTICLES = ("the ", "our ", "last week's ")


def topic_stem(topic: str) -> str:
    """A file-name stem for a topic phrase."""
    for article in _TOPIC_ARTICLES:
        if topic.startswith(article):
            topic = topic[len(article):]
            break
    return "_".join(word for word in topic.replace("-", " ").split())


def _sentence(rng: random.Random, persona: Persona, topic: str | None = None) -> str:
    return rng.choice(vocab.SENTENCES).format(topic=topic or rng.choice(persona.topics))


LOG_EVENTS = ("started", "retrying request", "cache miss", "job finished", "slow query")


def _file_content(
    rng: random.Random, extension: str, stem: str, persona: Persona, topic: str | None
) -> str:
    """A file's text; a file named for a topic (`topic`) is about that topic."""
    if extension == "csv":
        header = rng.choice(
            ("date,region,amount", "item,quantity,unit_price", "name,team,hours", "id,status,owner")
        )
        rows = []
        for index in range(rng.randint(3, 8)):
            if header.startswith("date"):
                rows.append(f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
                            f"{rng.choice(('north', 'south', 'east', 'west'))},"
                            f"{rng.randint(120, 9800)}")
            elif header.startswith("item"):
                rows.append(f"{rng.choice(vocab.FILE_STEMS)},{rng.randint(1, 400)},"
                            f"{rng.randint(2, 300)}.{rng.randint(0, 99):02d}")
            elif header.startswith("name"):
                rows.append(f"{rng.choice(persona.friends).first_name},{persona.project},"
                            f"{rng.randint(2, 45)}")
            else:
                rows.append(f"{1000 + index},{rng.choice(('open', 'done', 'blocked'))},"
                            f"{rng.choice(persona.friends).username}")
        return "\n".join([header, *rows])
    if extension == "py":
        name = stem.replace("-", "_")
        return (
            f"def {name}(values):\n"
            f"    \"\"\"Compute the {name.replace('_', ' ')} figure.\"\"\"\n"
            f"    total = sum(values)\n"
            f"    return round(total / max(len(values), 1), {rng.randint(1, 3)})\n"
        )
    if extension == "log":
        levels = ("INFO", "WARN", "ERROR", "DEBUG")
        return "\n".join(
            f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} {rng.choice(levels)} "
            f"{rng.choice(('worker', 'scheduler', 'api', 'db'))}: "
            f"{rng.choice(LOG_EVENTS)}"
            for _ in range(rng.randint(3, 7))
        )
    if extension == "json":
        return json.dumps(
            {"project": persona.project, "owner": persona.first_name,
             "topic": topic or rng.choice(persona.topics), "budget": rng.randint(1000, 90000),
             "approved": rng.random() < 0.5},
            sort_keys=True,
        )
    title = stem.replace("_", " ").title()
    lines = [f"# {title}" if extension == "md" else title]
    lines.extend(_sentence(rng, persona, topic) for _ in range(rng.randint(1, 4)))
    return "\n".join(lines)


def _file_stem(rng: random.Random, persona: Persona) -> tuple[str, str | None]:
    """A file stem and the topic it is named for (None for project and office documents)."""
    draw = rng.random()
    if draw < 0.35:
        topic = rng.choice(persona.topics)
        suffix = rng.choice(("notes", "summary", "plan", "draft", "review", "data"))
        return f"{topic_stem(topic)}_{suffix}", topic
    if draw < 0.55:
        return f"{persona.project}_{rng.choice(vocab.FILE_STEMS)}", None
    stem = rng.choice(vocab.FILE_STEMS)
    if rng.random() < 0.35:
        stem = f"{stem}_{rng.choice((2023, 2024, 2025, 'v2', 'final', 'draft'))}"
    return stem, None


def _directory(
    rng: random.Random, depth: int, persona: Persona, top: bool = False
) -> dict[str, Any]:
    contents: dict[str, Any] = {}
    for _ in range(rng.randint(2, 6)):
        extension = rng.choice(vocab.EXTENSIONS)
        stem, topic = _file_stem(rng, persona)
        name = f"{stem}.{extension}"
        if name in contents:
            continue
        content = _file_content(rng, extension, stem, persona, topic)
        contents[name] = {"type": "file", "content": content}
    if depth > 0:
        for _ in range(rng.randint(1, 3)):
            # Only the workspace itself has a folder per topic (no topic folder in a topic folder).
            if top and rng.random() < 0.3:
                folder = topic_stem(rng.choice(persona.topics))
            else:
                folder = rng.choice(vocab.FOLDERS)
            if folder in contents:
                continue
            subtree = _directory(rng, depth - 1, persona)
            contents[folder] = {"type": "directory", "contents": subtree}
    return contents


def gorilla_file_system(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """The persona's workspace: 2-4 levels of files about their project and topics."""
    first = ascii_slug(persona.first_name)
    top = rng.choice((first, f"{first}_workspace", persona.project, f"{persona.project}_{first}"))
    tree = _directory(rng, rng.randint(1, 3), persona, top=True)
    if rng.random() < _EMPTY_FOLDER_SHARE:
        # A folder left empty (what `rmdir` removes; BFCL's own workspaces have them).
        tree.setdefault(rng.choice(_EMPTY_FOLDERS), {"type": "directory", "contents": {}})
    return {"root": {top: {"type": "directory", "contents": tree}}}


_EMPTY_FOLDER_SHARE = 0.5
_EMPTY_FOLDERS = ("old_drafts", "unused", "scratch", "to_sort", "tmp")


def message_api(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """The persona and their friends as users, messages the persona sent about their topics."""
    names = [friend.first_name for friend in persona.friends]
    names.insert(rng.randint(0, len(names)), persona.first_name)
    # Ids are sequential from USR001, as the class numbers new contacts `user_count + 1`.
    user_map = {name: f"USR{index + 1:03d}" for index, name in enumerate(names)}
    own_id = user_map[persona.first_name]
    # The class's inbox holds the current user's sent messages, keyed by receiver.
    receivers = [user_id for user_id in user_map.values() if user_id != own_id]
    inbox = [{rng.choice(receivers): _sentence(rng, persona)} for _ in range(rng.randint(1, 6))]
    return {
        "user_count": len(user_map),
        "user_map": user_map,
        "inbox": inbox,
        "message_count": len(inbox),
        "current_user": own_id if rng.random() < 0.35 else None,
        "random_seed": rng.randint(1, 10**6),
    }


def twitter_api(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """The persona's account: tweets about their topics, mentions and follows of friends."""
    others = [friend.handle for friend in persona.friends]
    tweets = {}
    for index in range(rng.randint(2, 8)):
        tweets[str(index)] = {
            "id": index,
            "username": persona.handle,
            "content": rng.choice(vocab.TWEET_TEMPLATES).format(topic=rng.choice(persona.topics)),
            "tags": rng.sample(vocab.HASHTAGS, rng.randint(0, 3)),
            "mentions": [f"@{m}" for m in rng.sample(others, rng.randint(0, 2))],
        }
    return {
        "username": persona.handle,
        "password": persona.password,
        "authenticated": rng.random() < 0.3,
        "tweets": tweets,
        "comments": {},
        "retweets": {},
        "following_list": rng.sample(others, rng.randint(1, len(others))),
        "tweet_counter": len(tweets),
    }


def _ticket_subjects(rng: random.Random, persona: Persona) -> list[tuple[str, str]]:
    """Tickets about the persona's project and topics, mixed with everyday IT trouble."""
    count = rng.randint(1, 6)
    work = rng.randint(0, min(count, len(vocab.WORK_TICKETS)))
    subjects = []
    for title, description in rng.sample(vocab.WORK_TICKETS, work):
        fields = {
            "project": persona.project,
            "Project": persona.project.capitalize(),
            "topic": rng.choice(persona.topics),
        }
        subjects.append((title.format(**fields), description.format(**fields)))
    subjects.extend(rng.sample(vocab.TICKET_SUBJECTS, count - work))
    rng.shuffle(subjects)
    return subjects


def ticket_api(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """The persona's ticket queue with consistent ids and counter, sometimes logged in."""
    colleagues = [friend.username for friend in persona.friends]
    queue = []
    next_id = rng.randint(1, 9000)
    for index, (subject, description) in enumerate(_ticket_subjects(rng, persona)):
        # The queue is the persona's: they filed the first ticket and most of the others.
        mine = index == 0 or rng.random() < 0.7
        queue.append(
            {
                "id": next_id,
                "title": subject,
                "description": description,
                "status": rng.choice(vocab.TICKET_STATUSES[:3]),
                "priority": rng.randint(1, 5),
                "created_by": persona.username if mine else rng.choice(colleagues),
            }
        )
        next_id += rng.randint(1, 40)
    return {
        "ticket_queue": queue,
        "ticket_counter": next_id,
        "current_user": persona.username if rng.random() < 0.3 else None,
    }


def trading_bot(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """Every stock of the persona's sectors plus a few others, orders, watch list and account.

    Symbols come only from the class's own tables (`get_symbol_by_name`,
    `get_available_stocks`), so a symbol looked up by company or sector is in the state.
    """
    favorites = list(
        dict.fromkeys(s for sector in persona.stock_sectors for s in STOCKS_OF_SECTOR[sector])
    )
    others = [symbol for symbol in TRADABLE_SYMBOLS if symbol not in favorites]
    extra = max(0, rng.randint(5, 10) - len(favorites))
    chosen = favorites + rng.sample(others, extra)
    rng.shuffle(chosen)
    stocks = {}
    for symbol in chosen:
        price = round(rng.uniform(12, 900), 2)
        stocks[symbol] = {
            "price": price,
            "percent_change": round(rng.uniform(-3, 3), 2),
            "volume": round(rng.uniform(0.4, 9.5), 3),
            "MA(5)": round(price * rng.uniform(0.97, 1.03), 2),
            "MA(20)": round(price * rng.uniform(0.93, 1.07), 2),
        }
    symbols = list(stocks)
    order_id = rng.randint(10000, 60000)
    orders = {}
    for _ in range(rng.randint(1, 4)):
        symbol = rng.choice(favorites if rng.random() < 0.7 else symbols)
        orders[str(order_id)] = {
            "id": order_id,
            "order_type": rng.choice(("Buy", "Sell")),
            "symbol": symbol,
            "price": round(stocks[symbol]["price"] * rng.uniform(0.95, 1.05), 2),
            "amount": rng.randint(1, 200),
            "status": rng.choice(("Completed", "Pending", "Open")),
        }
        order_id += rng.randint(1, 150)
    return {
        "orders": orders,
        "account_info": {
            "account_id": rng.randint(10000, 99999),
            "balance": round(rng.uniform(500, 80000), 2),
            "binding_card": rng.randint(4 * 10**15, 5 * 10**15 - 1),
        },
        "authenticated": rng.random() < 0.4,
        "market_status": rng.choice(("Open", "Closed")),
        "order_counter": order_id,
        "stocks": stocks,
        "watch_list": rng.sample(favorites, rng.randint(1, min(4, len(favorites)))),
        "transaction_history": [],
    }


def travel_api(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """The persona as traveler and cardholder (fake numbers), an unauthenticated session."""
    cards = {}
    for _ in range(rng.randint(1, 3)):
        card_id = str(rng.randint(10**11, 10**12 - 1))
        number = "".join(str(rng.randint(0, 9)) for _ in range(16))
        cards[card_id] = {
            "card_number": f"{number[:4]}-{number[4:8]}-{number[8:12]}-{number[12:]}",
            "expiration_date": f"{rng.randint(1, 12):02d}/{rng.randint(2026, 2031)}",
            "cardholder_name": persona.full_name,
            "card_verification_number": rng.randint(100, 999),
            "balance": round(rng.uniform(800, 30000), 2),
        }
    return {
        "random_seed": rng.randint(1, 10**6),
        "credit_card_list": cards,
        "booking_record": {},
        "access_token": None,
        "token_type": None,
        "token_expires_in": None,
        "token_scope": None,
        "user_first_name": persona.first_name,
        "user_last_name": persona.last_name,
        "budget_limit": round(rng.uniform(500, 8000), 0) if rng.random() < 0.5 else None,
    }


def vehicle_control_api(rng: random.Random, persona: Persona) -> dict[str, Any]:
    """A parked car with varied fuel, doors, climate and tire state, near the persona's home."""
    doors = {
        door: rng.choice(("locked", "unlocked"))
        for door in ("driver", "passenger", "rear_left", "rear_right")
    }
    front, rear = round(rng.uniform(28, 36), 1), round(rng.uniform(26, 35), 1)
    config = {
        "random_seed": rng.randint(1, 10**6),
        "fuelLevel": round(rng.uniform(2, 14.5), 1),
        "batteryVoltage": round(rng.uniform(11.8, 13.2), 1),
        "engine_state": "stopped",
        "doorStatus": doors,
        "acTemperature": round(rng.uniform(16, 28), 1),
        "fanSpeed": rng.randrange(0, 101, 10),
        "acMode": rng.choice(("auto", "cool", "heat", "defrost")),
        "humidityLevel": round(rng.uniform(30, 70), 1),
        "headLightStatus": rng.choice(("on", "off")),
        "parkingBrakeStatus": rng.choice(("engaged", "released")),
        "brakePedalStatus": "released",
        "brakePedalForce": 0.0,
        "distanceToNextVehicle": round(rng.uniform(20, 120), 1),
        "cruiseStatus": "inactive",
        "destination": "None",
        "frontLeftTirePressure": front,
        "frontRightTirePressure": round(front + rng.uniform(-1.5, 1.5), 1),
        "rearLeftTirePressure": rear,
        "rearRightTirePressure": round(rear + rng.uniform(-1.5, 1.5), 1),
    }
    if rng.random() < 0.3:
        # A trip already set: somewhere the vehicle tools can measure from home, or home itself.
        city = rng.choice([persona.home_city, *persona.nearby_cities])
        config["destination"] = f"{rng.randint(10, 999)} {rng.choice(vocab.STREETS)}, {city}"
    return config


CLASS_GENERATORS: dict[str, ConfigGenerator] = {
    "GorillaFileSystem": gorilla_file_system,
    "MessageAPI": message_api,
    "TwitterAPI": twitter_api,
    "TicketAPI": ticket_api,
    "TradingBot": trading_bot,
    "TravelAPI": travel_api,
    "VehicleControlAPI": vehicle_control_api,
}


# ---------------------------------------------------------------------- registered classes
# Every registered class generates with its pack's own generator when it gives one, else the
# built-in one; the seeds phase and graph probing both look generators up here.

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def accepts_persona(generator: Callable[..., Any]) -> str | None:
    """How a pack generator takes the persona: `positional`, `keyword`, or None (rng only).

    A generator takes it when its second positional parameter is required or any parameter is
    named `persona`; an optional second parameter is the pack's own and is left alone.
    """
    try:
        parameters = list(inspect.signature(generator).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in _POSITIONAL]
    if len(positional) >= 2 and positional[1].default is inspect.Parameter.empty:
        return "positional"
    if any(p.name == "persona" and p.kind is not inspect.Parameter.POSITIONAL_ONLY
           for p in parameters):
        return "keyword"
    return None


def pack_generator(generator: Callable[..., dict]) -> ConfigGenerator:
    """A pack's `(rng)` or `(rng, persona)` generator as a `(rng, persona)` one.

    Packs get the persona as its JSON-able dict (what the scenario stores), so their code needs
    nothing of ours to read it.
    """
    mode = accepts_persona(generator)
    if mode == "positional":
        return lambda rng, persona: generator(rng, persona.model_dump())
    if mode == "keyword":
        return lambda rng, persona: generator(rng, persona=persona.model_dump())
    return lambda rng, persona: generator(rng)


def _empty_config(rng: random.Random, persona: Persona) -> dict[str, Any]:
    return {}


def class_generator(registry: ToolRegistry, class_name: str) -> ConfigGenerator:
    """The config generator of a class: the pack's own, else the built-in one, else `{}`."""
    env_class = registry.classes[class_name]
    if env_class.scenario_generator is not None:
        return pack_generator(env_class.scenario_generator)
    if class_name in CLASS_GENERATORS:
        return CLASS_GENERATORS[class_name]
    return _empty_config


def class_generators(registry: ToolRegistry) -> dict[str, ConfigGenerator]:
    """The config generator of every registered class."""
    return {name: class_generator(registry, name) for name in registry.classes}


# Classes whose tools a goal of the key class's user plausibly also needs: tell a friend about
# the trip, file a ticket about the broken build, tweet about the new position. Companions of a
# pack class without an entry are drawn from every class.
GOAL_COMPANIONS: dict[str, tuple[str, ...]] = {
    "TravelAPI": ("MessageAPI", "TwitterAPI", "VehicleControlAPI", "MathAPI"),
    "TradingBot": ("MessageAPI", "TwitterAPI", "MathAPI", "TicketAPI"),
    "TicketAPI": ("GorillaFileSystem", "MessageAPI", "TradingBot"),
    "GorillaFileSystem": ("TicketAPI", "TwitterAPI", "MessageAPI", "MathAPI"),
    "VehicleControlAPI": ("TravelAPI", "MessageAPI", "MathAPI"),
    "TwitterAPI": ("GorillaFileSystem", "MessageAPI", "TradingBot"),
    "MessageAPI": ("TravelAPI", "TicketAPI", "GorillaFileSystem", "TwitterAPI"),
}


# Goals about classes with long prerequisite chains (a trip: log in, register the card, book,
# insure) are drawn more often than goals about classes whose tools mostly stand alone (a car's
# dashboard); every class still keys goals, so all its tools are targets.
KEY_CLASS_WEIGHTS: dict[str, float] = {
    "TravelAPI": 1.6, "MessageAPI": 1.3, "TicketAPI": 1.2, "TradingBot": 1.2,
    "TwitterAPI": 1.0, "GorillaFileSystem": 1.0, "VehicleControlAPI": 0.5,
}


class ScenarioMix(BaseModel):
    """How scenarios are shaped for the goals sampled on them."""

    model_config = ConfigDict(extra="forbid")

    single_class_share: float = Field(
        default=0.5, ge=0, le=1,
        description="Share of scenarios whose goal needs one class only (BFCL: about half).",
    )
    key_class_weights: dict[str, float] = Field(
        default_factory=lambda: dict(KEY_CLASS_WEIGHTS),
        description="Relative chance of each class being a goal's key class (1 when absent).",
    )
    unmet_prerequisites: float = Field(
        default=0.75, ge=0, le=1,
        description="Share of scenarios whose state leaves prerequisites unmet on purpose "
        "(logged out, no card on file, doors unlocked), so a target's chain must be earned.",
    )


def choose_involved_classes(
    rng: random.Random,
    available: Sequence[str],
    min_classes: int = 1,
    max_classes: int = 3,
    single_class_share: float = 0.5,
    key_weights: Mapping[str, float] | None = None,
) -> tuple[str, list[str]]:
    """The goal's key class, and it with companions that fit it (1-3 classes, sorted).

    A stateless class (MathAPI) is never the key class: it rides along as a companion.
    """
    stateful = [name for name in available if name not in BFCL_STATELESS]
    if not stateful:
        chosen = sorted(available)[:max_classes]
        return (chosen[0] if chosen else ""), chosen
    ordered = sorted(stateful)
    weights = key_weights or {}
    key = rng.choices(ordered, weights=[weights.get(name, 1.0) for name in ordered])[0]
    count = rng.randint(min_classes, min(max_classes, len(available)))
    if rng.random() < single_class_share and min_classes <= 1:
        count = 1
    elif count == 1 and max_classes > 1 and len(available) > 1:
        count = 2
    fitting = [name for name in GOAL_COMPANIONS.get(key, ()) if name in available]
    others = [name for name in sorted(available) if name != key and name not in fitting]
    chosen = [key]
    while len(chosen) < count and (fitting or others):
        pool = fitting if fitting and (not others or rng.random() < 0.85) else others
        pick = rng.choice(pool)
        pool.remove(pick)
        chosen.append(pick)
    return key, sorted(chosen)


def _withhold_travel(config: dict[str, Any], rng: random.Random) -> None:
    if rng.random() < 0.5:
        config["credit_card_list"] = {}  # the card must be registered before it pays


def _withhold_vehicle(config: dict[str, Any], rng: random.Random) -> None:
    doors = config["doorStatus"]
    for door in rng.sample(sorted(doors), rng.randint(1, len(doors))):
        doors[door] = "unlocked"
    config["parkingBrakeStatus"] = "released"


def _withhold_files(config: dict[str, Any], rng: random.Random) -> None:
    # The workspace's own files are filed away in its folders: a file must be found and its
    # folder entered before it can be read, copied or moved.
    workspace = next(iter(config["root"].values()))["contents"]
    folders = [
        name for name, item in workspace.items() if item["type"] == "directory" and item["contents"]
    ]
    if not folders:
        return
    for name in [name for name, item in workspace.items() if item["type"] == "file"]:
        target = workspace[rng.choice(folders)]["contents"]
        if name not in target:
            target[name] = workspace.pop(name)


_LOGGED_OUT: dict[str, tuple[str, Any]] = {
    "MessageAPI": ("current_user", None),
    "TwitterAPI": ("authenticated", False),
    "TicketAPI": ("current_user", None),
    "TradingBot": ("authenticated", False),
}
_WITHHOLD: dict[str, Callable[[dict[str, Any], random.Random], None]] = {
    "TravelAPI": _withhold_travel,
    "VehicleControlAPI": _withhold_vehicle,
    "GorillaFileSystem": _withhold_files,
}


def withhold_prerequisites(config: dict[str, dict[str, Any]], rng: random.Random) -> None:
    """Leave the prerequisites of the classes' deeper tools unmet, in place.

    Sessions are closed, a traveler has no card on file half the time, the car's doors are not
    all locked, the workspace's files sit in its folders: a goal's first steps
    must then be earned by calls (METHOD.md, Eq. 1).
    """
    for name in sorted(config):
        if name in _LOGGED_OUT:
            key, value = _LOGGED_OUT[name]
            config[name][key] = value
        if name in _WITHHOLD:
            _WITHHOLD[name](config[name], rng)


class Scenario(BaseModel):
    """A generated initial state for a set of involved classes.

    Attributes:
        persona: The user the state belongs to (`Persona.model_dump()`); empty in records
            written before scenarios had one.
        key_class: The class the goal planned on this state is about.
    """

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    seed: int
    involved_classes: list[str]
    initial_config: dict[str, dict[str, Any]]
    fingerprint: str
    persona: dict[str, Any] = Field(default_factory=dict)
    key_class: str = Field(
        default="", description="The class the scenario's goal is about (its companions fit it)"
    )


def config_fingerprint(config: Any) -> str:
    """sha256 of the canonical JSON of a config."""
    return canonical_digest(config)


def generate_scenario(
    seed: int,
    available_classes: Sequence[str],
    min_classes: int = 1,
    max_classes: int = 3,
    generators: dict[str, ConfigGenerator] | None = None,
    mix: ScenarioMix | None = None,
) -> Scenario:
    """Generate one scenario deterministically from its seed.

    The involved classes are drawn first (the goal's key class, then companions that fit it),
    then the persona, then each class's config in sorted class order, then whether its
    prerequisites are left unmet, all from the one seeded generator.

    Args:
        seed: The scenario seed.
        available_classes: Classes to choose from.
        min_classes: Minimum involved classes.
        max_classes: Maximum involved classes.
        generators: Extra or overriding per-class generators (user packs).
        mix: Share of single-class scenarios and of states with unmet prerequisites.
    """
    mix = mix or ScenarioMix()
    rng = random.Random(seed)
    table = {**CLASS_GENERATORS, **(generators or {})}
    key, involved = choose_involved_classes(
        rng, available_classes, min_classes, max_classes, mix.single_class_share,
        mix.key_class_weights,
    )
    persona = draw_persona(rng)
    config = {
        name: (table[name](rng, persona) if name in table else {})
        for name in involved
        if name not in BFCL_STATELESS
    }
    if rng.random() < mix.unmet_prerequisites:
        withhold_prerequisites(config, rng)
    fingerprint = config_fingerprint(config)
    return Scenario(
        scenario_id=f"scn-{fingerprint[:12]}",
        seed=seed,
        involved_classes=involved,
        initial_config=config,
        fingerprint=fingerprint,
        persona=persona.model_dump(),
        key_class=key,
    )


def shard_seeds(shard_key: str, count: int, base_seed: int = 0) -> list[int]:
    """Per-scenario seeds derived from a shard key (stable across processes and machines)."""
    seeds = []
    for index in range(count):
        digest = hashlib.sha256(f"{base_seed}:{shard_key}:{index}".encode()).digest()
        seeds.append(int.from_bytes(digest[:8], "big") >> 1)
    return seeds
