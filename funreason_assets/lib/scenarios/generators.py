"""Seeded generators of realistic initial configs for the eight BFCL v3 classes.

Every generator takes a `random.Random` and returns a JSON-serializable config in the shape the
class's `_load_scenario` expects (the same shape BFCL's test entries use). Same seed, same
scenario, in any process: only the passed generator is used, never global randomness or time.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from funreason_assets.lib.digests import canonical_digest
from funreason_assets.lib.packs import BFCL_STATELESS
from funreason_assets.lib.scenarios import vocab


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)


def _sentence(rng: random.Random) -> str:
    return rng.choice(vocab.SENTENCES).format(topic=rng.choice(vocab.TOPICS))


LOG_EVENTS = ("started", "retrying request", "cache miss", "job finished", "slow query")


def _file_content(rng: random.Random, extension: str, stem: str) -> str:
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
                rows.append(f"{rng.choice(vocab.FIRST_NAMES)},{rng.choice(vocab.PROJECTS)},"
                            f"{rng.randint(2, 45)}")
            else:
                rows.append(f"{1000 + index},{rng.choice(('open', 'done', 'blocked'))},"
                            f"{rng.choice(vocab.FIRST_NAMES).lower()}")
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
            {"project": rng.choice(vocab.PROJECTS), "owner": rng.choice(vocab.FIRST_NAMES),
             "budget": rng.randint(1000, 90000), "approved": rng.random() < 0.5},
            sort_keys=True,
        )
    lines = [f"# {stem.replace('_', ' ').title()}" if extension == "md" else stem.title()]
    lines.extend(_sentence(rng) for _ in range(rng.randint(1, 4)))
    return "\n".join(lines)


def _directory(rng: random.Random, depth: int, used: set[str]) -> dict[str, Any]:
    contents: dict[str, Any] = {}
    for _ in range(rng.randint(2, 6)):
        extension = rng.choice(vocab.EXTENSIONS)
        stem = rng.choice(vocab.FILE_STEMS)
        if rng.random() < 0.35:
            stem = f"{stem}_{rng.choice((2023, 2024, 2025, 'v2', 'final', 'draft'))}"
        name = f"{stem}.{extension}"
        if name in contents:
            continue
        used.add(name)
        contents[name] = {"type": "file", "content": _file_content(rng, extension, stem)}
    if depth > 0:
        for _ in range(rng.randint(1, 3)):
            folder = rng.choice(vocab.FOLDERS)
            if folder in contents:
                continue
            contents[folder] = {"type": "directory", "contents": _directory(rng, depth - 1, used)}
    return contents


def gorilla_file_system(rng: random.Random) -> dict[str, Any]:
    """A workspace tree of 2-4 levels with realistically named and filled files."""
    first, _ = _person(rng)
    top = rng.choice((first.lower(), f"{first.lower()}_workspace", rng.choice(vocab.PROJECTS)))
    used: set[str] = set()
    return {
        "root": {top: {"type": "directory", "contents": _directory(rng, rng.randint(1, 3), used)}}
    }


def message_api(rng: random.Random) -> dict[str, Any]:
    """4-10 users, an inbox of realistic messages, sometimes a logged-in user."""
    names = rng.sample(vocab.FIRST_NAMES, rng.randint(4, 10))
    # Ids are sequential from USR001, as the class numbers new contacts `user_count + 1`.
    user_map = {name: f"USR{index + 1:03d}" for index, name in enumerate(names)}
    ids = list(user_map.values())
    inbox = [{rng.choice(ids): _sentence(rng)} for _ in range(rng.randint(1, 6))]
    return {
        "user_count": len(user_map),
        "user_map": user_map,
        "inbox": inbox,
        "message_count": len(inbox),
        "current_user": rng.choice(ids) if rng.random() < 0.35 else None,
        "random_seed": rng.randint(1, 10**6),
    }


def _handle(rng: random.Random) -> str:
    return f"{rng.choice(vocab.FIRST_NAMES).lower()}_{rng.choice(vocab.HANDLE_WORDS)}"


def twitter_api(rng: random.Random) -> dict[str, Any]:
    """An account with 2-8 tweets, tags, mentions and a following list."""
    username = _handle(rng)
    others = [_handle(rng) for _ in range(rng.randint(2, 6))]
    tweets = {}
    for index in range(rng.randint(2, 8)):
        tweets[str(index)] = {
            "id": index,
            "username": username,
            "content": rng.choice(vocab.TWEET_TEMPLATES).format(topic=rng.choice(vocab.TOPICS)),
            "tags": rng.sample(vocab.HASHTAGS, rng.randint(0, 3)),
            "mentions": [f"@{m}" for m in rng.sample(others, rng.randint(0, 2))],
        }
    password = (
        f"{rng.choice(vocab.HANDLE_WORDS).capitalize()}{rng.randint(10, 99)}"
        f"{rng.choice('!#$%&*')}{rng.choice(vocab.PROJECTS)}"
    )
    return {
        "username": username,
        "password": password,
        "authenticated": rng.random() < 0.3,
        "tweets": tweets,
        "comments": {},
        "retweets": {},
        "following_list": others[: rng.randint(1, len(others))],
        "tweet_counter": len(tweets),
    }


def ticket_api(rng: random.Random) -> dict[str, Any]:
    """A queue of tickets with consistent ids and counter, sometimes a logged-in user."""
    first, last = _person(rng)
    user = f"{first.lower()}.{last.lower()}"
    queue = []
    next_id = rng.randint(1, 9000)
    for subject, description in rng.sample(vocab.TICKET_SUBJECTS, rng.randint(1, 6)):
        queue.append(
            {
                "id": next_id,
                "title": subject,
                "description": description,
                "status": rng.choice(vocab.TICKET_STATUSES[:3]),
                "priority": rng.randint(1, 5),
                "created_by": user if rng.random() < 0.7 else rng.choice(vocab.FIRST_NAMES),
            }
        )
        next_id += rng.randint(1, 40)
    return {
        "ticket_queue": queue,
        "ticket_counter": next_id,
        "current_user": user if rng.random() < 0.3 else None,
    }


def trading_bot(rng: random.Random) -> dict[str, Any]:
    """Stocks with consistent prices and averages, orders, watch list and account."""
    chosen = rng.sample(vocab.STOCKS, rng.randint(5, 10))
    stocks = {}
    for symbol, _name in chosen:
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
        symbol = rng.choice(symbols)
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
        "watch_list": rng.sample(symbols, rng.randint(1, min(4, len(symbols)))),
        "transaction_history": [],
    }


def travel_api(rng: random.Random) -> dict[str, Any]:
    """Registered cards (fake numbers), a traveler, and an unauthenticated session."""
    first, last = _person(rng)
    cards = {}
    for _ in range(rng.randint(1, 3)):
        card_id = str(rng.randint(10**11, 10**12 - 1))
        number = "".join(str(rng.randint(0, 9)) for _ in range(16))
        cards[card_id] = {
            "card_number": f"{number[:4]}-{number[4:8]}-{number[8:12]}-{number[12:]}",
            "expiration_date": f"{rng.randint(1, 12):02d}/{rng.randint(2026, 2031)}",
            "cardholder_name": f"{first} {last}",
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
        "user_first_name": first,
        "user_last_name": last,
        "budget_limit": round(rng.uniform(500, 8000), 0) if rng.random() < 0.5 else None,
    }


def vehicle_control_api(rng: random.Random) -> dict[str, Any]:
    """A parked car with varied fuel, doors, climate and tire state."""
    doors = {
        door: rng.choice(("locked", "unlocked"))
        for door in ("driver", "passenger", "rear_left", "rear_right")
    }
    front, rear = round(rng.uniform(28, 36), 1), round(rng.uniform(26, 35), 1)
    return {
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


CLASS_GENERATORS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "GorillaFileSystem": gorilla_file_system,
    "MessageAPI": message_api,
    "TwitterAPI": twitter_api,
    "TicketAPI": ticket_api,
    "TradingBot": trading_bot,
    "TravelAPI": travel_api,
    "VehicleControlAPI": vehicle_control_api,
}


def choose_involved_classes(
    rng: random.Random, available: Sequence[str], min_classes: int = 1, max_classes: int = 3
) -> list[str]:
    """1-3 classes, sorted; a stateless class (MathAPI) rides along with a stateful one."""
    stateful = [name for name in available if name not in BFCL_STATELESS]
    stateless = [name for name in available if name in BFCL_STATELESS]
    if not stateful:
        return sorted(available)[:max_classes]
    count = rng.randint(min_classes, min(max_classes, len(available)))
    chosen = rng.sample(stateful, min(count, len(stateful)))
    if stateless and len(chosen) < max_classes and rng.random() < 0.25:
        chosen.append(rng.choice(stateless))
    return sorted(chosen)


class Scenario(BaseModel):
    """A generated initial state for a set of involved classes."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    seed: int
    involved_classes: list[str]
    initial_config: dict[str, dict[str, Any]]
    fingerprint: str


def config_fingerprint(config: Any) -> str:
    """sha256 of the canonical JSON of a config."""
    return canonical_digest(config)


def generate_scenario(
    seed: int,
    available_classes: Sequence[str],
    min_classes: int = 1,
    max_classes: int = 3,
    generators: dict[str, Callable[[random.Random], dict[str, Any]]] | None = None,
) -> Scenario:
    """Generate one scenario deterministically from its seed.

    Args:
        seed: The scenario seed.
        available_classes: Classes to choose from.
        min_classes: Minimum involved classes.
        max_classes: Maximum involved classes.
        generators: Extra or overriding per-class generators (user packs).
    """
    rng = random.Random(seed)
    table = {**CLASS_GENERATORS, **(generators or {})}
    involved = choose_involved_classes(rng, available_classes, min_classes, max_classes)
    config = {
        name: (table[name](rng) if name in table else {})
        for name in involved
        if name not in BFCL_STATELESS
    }
    fingerprint = config_fingerprint(config)
    return Scenario(
        scenario_id=f"scn-{fingerprint[:12]}",
        seed=seed,
        involved_classes=involved,
        initial_config=config,
        fingerprint=fingerprint,
    )


def shard_seeds(shard_key: str, count: int, base_seed: int = 0) -> list[int]:
    """Per-scenario seeds derived from a shard key (stable across processes and machines)."""
    seeds = []
    for index in range(count):
        digest = hashlib.sha256(f"{base_seed}:{shard_key}:{index}".encode()).digest()
        seeds.append(int.from_bytes(digest[:8], "big") >> 1)
    return seeds
