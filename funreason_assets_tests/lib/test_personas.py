"""One persona per scenario: its tables agree with the classes, every class config uses it.

The city, route and stock tables are checked against the live BFCL classes (a bfcl-eval upgrade
that changes them fails here); the generated scenarios are checked for one coherent world, for
loading, for determinism, and the seeds phase for using a user pack's own generator.
"""

import inspect
import json
import random
import re
import string
from pathlib import Path

import pytest

from funreason_assets.lib.executor import ParsedCall, execute_call
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.scenarios import vocab
from funreason_assets.lib.scenarios.contamination import BfclTestIndex
from funreason_assets.lib.scenarios.generators import (
    Scenario,
    accepts_persona,
    generate_scenario,
    pack_generator,
    shard_seeds,
)
from funreason_assets.lib.scenarios.personas import (
    AIRPORT_OF_CITY,
    DRIVING_DISTANCE_KM,
    FLIGHT_ROUTES,
    KNOWN_CITIES,
    STOCKS_OF_SECTOR,
    SYMBOL_OF_COMPANY,
    TRADABLE_SYMBOLS,
    ZIPCODE_OF_CITY,
    Persona,
    ascii_slug,
    draw_persona,
)
from funreason_assets.lib.scenarios.seeds import (
    InvolvedClassesRange,
    build_seeds,
    judge_seeds,
    validate_scenario,
)

BOOKSHOP_PACK = Path(__file__).resolve().parents[1] / "fixtures" / "bookshop" / "bookshop_pack.yaml"
TABLE_CLASSES = ["TravelAPI", "VehicleControlAPI", "TradingBot"]


def call(environment, tool, **kwargs):
    """The output of one call that must succeed."""
    outcome = execute_call(environment, ParsedCall(tool, kwargs=kwargs))
    assert outcome.status == "ok", (tool, kwargs, outcome.error)
    return outcome.output


@pytest.fixture(scope="module")
def scenarios(registry):
    seeds = shard_seeds("shard-personas", 200, 5)
    return [generate_scenario(seed, sorted(registry.classes), 1, 3) for seed in seeds]


@pytest.fixture(scope="module")
def tables_environment(registry):
    return registry.environment(TABLE_CLASSES, {})


# ------------------------------------------------------------------ tables vs. live classes


def test_city_tables_agree_with_the_travel_and_vehicle_tools(registry, tables_environment):
    for city, airport in AIRPORT_OF_CITY.items():
        found = call(tables_environment, "get_nearest_airport_by_city", location=city)
        assert found == {"nearest_airport": airport}
    for city, zipcode in ZIPCODE_OF_CITY.items():
        assert call(tables_environment, "get_zipcode_based_on_city", city=city) == {
            "zipcode": zipcode
        }
    assert len(KNOWN_CITIES) == 11
    assert set(KNOWN_CITIES) == set(AIRPORT_OF_CITY) & set(ZIPCODE_OF_CITY)
    # The travel tool's documented cities are exactly the table's.
    location = registry.tool("get_nearest_airport_by_city").parameters["properties"]["location"]
    assert location["enum"] == list(AIRPORT_OF_CITY)
    assert call(tables_environment, "get_zipcode_based_on_city", city="London") == {
        "zipcode": "00000"
    }


def test_route_and_distance_tables_agree_with_the_tools(registry, tables_environment):
    # Every fare of the class's table, read from its source: the table misses none.
    source = inspect.getsource(registry.classes["TravelAPI"].cls.get_flight_cost)
    assert set(re.findall(r'\("([A-Z]{3})", "([A-Z]{3})"\): \d+', source)) == FLIGHT_ROUTES
    for origin, destination in sorted(FLIGHT_ROUTES):
        cost = call(
            tables_environment, "get_flight_cost", travel_from=origin, travel_to=destination,
            travel_date="2025-03-14", travel_class="economy",
        )
        assert cost["travel_cost_list"][0] > 0
    reverse = execute_call(tables_environment, ParsedCall("get_flight_cost", kwargs={
        "travel_from": "GFD", "travel_to": "PHV", "travel_date": "2025-03-14",
        "travel_class": "economy"}))
    assert reverse.status == "exception" and "No available route" in reverse.error
    for (city_a, city_b), km in DRIVING_DISTANCE_KM.items():
        for first, second in ((city_a, city_b), (city_b, city_a)):
            distance = call(tables_environment, "estimate_distance",
                            cityA=ZIPCODE_OF_CITY[first], cityB=ZIPCODE_OF_CITY[second])
            assert distance == {"distance": km}


def test_stock_tables_agree_with_the_trading_tools(tables_environment):
    for company, symbol in SYMBOL_OF_COMPANY.items():
        assert call(tables_environment, "get_symbol_by_name", name=company) == {"symbol": symbol}
    for sector, symbols in STOCKS_OF_SECTOR.items():
        found = call(tables_environment, "get_available_stocks", sector=sector)
        assert found == {"stock_list": list(symbols)}
    assert len(TRADABLE_SYMBOLS) == len(set(TRADABLE_SYMBOLS)) == 15


# ------------------------------------------------------------------ the persona itself


def test_a_persona_is_plausible_and_drawn_from_the_seed_only():
    for seed in range(200):
        persona = draw_persona(random.Random(seed))
        assert persona == draw_persona(random.Random(seed))
        assert persona.username == (
            f"{ascii_slug(persona.first_name)}.{ascii_slug(persona.last_name)}")
        assert persona.handle.isascii() and persona.handle.replace("_", "").isalnum()
        secret = persona.password
        assert 10 <= len(secret) <= 14
        assert any(c in string.ascii_uppercase for c in secret)
        assert any(c in string.ascii_lowercase for c in secret)
        assert any(c in string.digits for c in secret)
        assert any(not c.isalnum() for c in secret)
        assert not set(secret) & set("'\"\\ ")
        assert persona.home_city in KNOWN_CITIES
        assert persona.home_airport == AIRPORT_OF_CITY[persona.home_city]
        assert persona.home_zipcode == ZIPCODE_OF_CITY[persona.home_city]
        assert 2 <= len(persona.travel_cities) <= 3
        for city in persona.travel_cities:
            assert (persona.home_airport, AIRPORT_OF_CITY[city]) in FLIGHT_ROUTES
        assert persona.nearby_cities
        for city in persona.nearby_cities:
            assert (persona.home_city, city) in DRIVING_DISTANCE_KM or (
                city, persona.home_city) in DRIVING_DISTANCE_KM
        assert set(persona.topics) <= set(vocab.TOPICS) and 2 <= len(persona.topics) <= 3
        assert set(persona.stock_sectors) <= set(STOCKS_OF_SECTOR)
        assert persona.employer in vocab.COMPANIES and persona.project in vocab.PROJECTS
        first_names = [persona.first_name, *(f.first_name for f in persona.friends)]
        assert 4 <= len(first_names) == len(set(first_names)) <= 8
        handles = [persona.handle, *(f.handle for f in persona.friends)]
        assert len(handles) == len(set(handles))


def test_records_written_before_personas_still_load(scenarios):
    old = scenarios[0].model_dump()
    del old["persona"]
    assert Scenario.model_validate(old).persona == {}
    assert Persona.model_validate(scenarios[0].persona).model_dump() == scenarios[0].persona


# ------------------------------------------------------------------ one world per scenario


def test_every_class_config_belongs_to_the_scenarios_persona(scenarios):
    several = 0
    for scenario in scenarios:
        persona = Persona.model_validate(scenario.persona)
        config = scenario.initial_config
        friends = {f.first_name: f for f in persona.friends}
        if len(config) >= 2:
            several += 1
        if "TravelAPI" in config:
            travel = config["TravelAPI"]
            assert (travel["user_first_name"], travel["user_last_name"]) == (
                persona.first_name, persona.last_name)
            # A state with its prerequisites withheld has no card on file yet.
            assert {card["cardholder_name"] for card in travel["credit_card_list"].values()} in (
                {persona.full_name}, set())
        if "TicketAPI" in config:
            ticket = config["TicketAPI"]
            creators = {t["created_by"] for t in ticket["ticket_queue"]}
            assert ticket["ticket_queue"][0]["created_by"] == persona.username
            assert creators <= {persona.username, *(f.username for f in persona.friends)}
            assert ticket["current_user"] in (None, persona.username)
        if "MessageAPI" in config:
            message = config["MessageAPI"]
            assert set(message["user_map"]) == {persona.first_name, *friends}
            own_id = message["user_map"][persona.first_name]
            assert message["current_user"] in (None, own_id)
            for sent in message["inbox"]:
                (receiver, text), = sent.items()
                assert receiver != own_id
                assert any(topic in text for topic in persona.topics)
        if "TwitterAPI" in config:
            twitter = config["TwitterAPI"]
            handles = {f.handle for f in persona.friends}
            assert twitter["username"] == persona.handle
            assert twitter["password"] == persona.password
            assert set(twitter["following_list"]) <= handles
            for tweet in twitter["tweets"].values():
                assert tweet["username"] == persona.handle
                assert any(topic in tweet["content"] for topic in persona.topics)
                assert {m.removeprefix("@") for m in tweet["mentions"]} <= handles
        if "GorillaFileSystem" in config:
            (top, tree), = config["GorillaFileSystem"]["root"].items()
            assert persona.first_name.lower() in top or persona.project in top
            text = json.dumps(tree)
            assert any(topic in text for topic in persona.topics) or persona.project in text
        if "TradingBot" in config:
            trading = config["TradingBot"]
            favorites = {s for sector in persona.stock_sectors for s in STOCKS_OF_SECTOR[sector]}
            assert favorites <= set(trading["stocks"]) <= set(TRADABLE_SYMBOLS)
            assert set(trading["watch_list"]) <= favorites
            assert {o["symbol"] for o in trading["orders"].values()} <= set(trading["stocks"])
        if "VehicleControlAPI" in config:
            destination = config["VehicleControlAPI"]["destination"]
            places = (persona.home_city, *persona.nearby_cities)
            assert destination == "None" or destination.endswith(places)
    assert several >= 50


def test_the_persona_is_named_in_each_class_of_a_multi_class_scenario(registry):
    classes = ["MessageAPI", "TicketAPI", "TravelAPI", "TwitterAPI"]
    for seed in shard_seeds("shard-multi", 30, 2):
        scenario = generate_scenario(seed, classes, 3, 3)
        persona = Persona.model_validate(scenario.persona)
        assert len(scenario.initial_config) == 3
        texts = {name: json.dumps(config) for name, config in scenario.initial_config.items()}
        for name in ("TravelAPI", "TicketAPI", "MessageAPI"):
            if name in texts:
                assert persona.first_name.lower() in texts[name].lower(), name
        if "TwitterAPI" in texts:
            assert scenario.initial_config["TwitterAPI"]["username"] == persona.handle


def test_the_persona_cities_are_known_to_the_live_tools(registry, scenarios):
    checked = 0
    for scenario in scenarios:
        involved = [c for c in scenario.involved_classes if c in ("TravelAPI", "VehicleControlAPI")]
        if not involved:
            continue
        persona = Persona.model_validate(scenario.persona)
        environment = registry.environment(involved, scenario.initial_config)
        if "TravelAPI" in involved:
            found = call(environment, "get_nearest_airport_by_city", location=persona.home_city)
            assert found == {"nearest_airport": persona.home_airport} != {
                "nearest_airport": "Unknown"}
            for city in persona.travel_cities:
                call(environment, "get_flight_cost", travel_from=persona.home_airport,
                     travel_to=AIRPORT_OF_CITY[city], travel_date="2025-06-02",
                     travel_class="business")
        if "VehicleControlAPI" in involved:
            zipcode = call(environment, "get_zipcode_based_on_city", city=persona.home_city)
            assert zipcode == {"zipcode": persona.home_zipcode} != {"zipcode": "00000"}
            for city in persona.nearby_cities:
                distance = call(environment, "estimate_distance", cityA=persona.home_zipcode,
                                cityB=ZIPCODE_OF_CITY[city])
                assert distance["distance"] > 0
        checked += 1
    assert checked >= 50


def test_every_config_of_200_scenarios_loads_and_none_is_a_bfcl_config(registry, scenarios):
    index = BfclTestIndex.load()
    for scenario in scenarios:
        assert validate_scenario(scenario) == []
        assert index.config_overlaps(scenario) == []
        registry.environment(scenario.involved_classes, scenario.initial_config)


def test_same_seed_same_scenario(registry):
    for seed in shard_seeds("shard-determinism", 20, 9):
        first = generate_scenario(seed, sorted(registry.classes), 1, 3)
        again = generate_scenario(seed, sorted(registry.classes), 1, 3)
        assert first.model_dump() == again.model_dump()
        assert first.persona


# ------------------------------------------------------------------ user packs' generators


@pytest.fixture(scope="module")
def bookshop_registry():
    return ToolRegistry.from_config(BOOKSHOP_PACK)


def test_the_seeds_phase_uses_a_packs_own_generator(bookshop_registry):
    seeds = build_seeds(bookshop_registry, "shard-bookshop", 30, 3, InvolvedClassesRange())
    assert seeds.verdict("seeds_load").passed
    bookshop = [s for s in seeds.value if "BookshopAPI" in s.involved_classes]
    assert len(bookshop) >= 10
    for scenario in bookshop:
        config = scenario.initial_config["BookshopAPI"]
        assert config["catalog"] and config["order_counter"] == 1
        environment = bookshop_registry.environment(
            scenario.involved_classes, scenario.initial_config)
        book = next(iter(config["catalog"]))
        found = call(environment, "search_books", query=config["catalog"][book]["title"])
        assert book in [row["book_id"] for row in found["books"]]


def test_seeds_load_fails_on_a_pack_config_that_cannot_load(bookshop_registry):
    config = {"BookshopAPI": {"random_seed": [1, 2]}}
    broken = Scenario(scenario_id="scn-bad-shop", seed=0, involved_classes=["BookshopAPI"],
                      initial_config=config, fingerprint="0" * 64)
    verdict = judge_seeds([broken], BfclTestIndex.load(), bookshop_registry).verdict("seeds_load")
    assert not verdict.passed
    (problem,) = verdict.metadata["failing"]["scn-bad-shop"]
    assert problem.startswith("BookshopAPI: config does not load (TypeError")
    # Without the registry the pack class is not checked (its class is unknown to the phase).
    assert judge_seeds([broken], BfclTestIndex.load()).verdict("seeds_load").passed


def test_a_pack_generator_gets_the_persona_only_when_it_asks():
    def shop_for(rng, persona):
        return {"signed_in": persona["username"], "random_seed": rng.randint(1, 9)}

    def shop_keyword(rng, *, persona):
        return {"signed_in": persona["first_name"]}

    def shop_sized(rng, size=3):
        return {"catalog": {f"BK{i}": {"title": "Moss", "price": 9} for i in range(size)}}

    assert accepts_persona(shop_for) == "positional"
    assert accepts_persona(shop_keyword) == "keyword"
    assert accepts_persona(shop_sized) is None
    assert accepts_persona(lambda rng: {}) is None
    for seed in range(5):
        scenario = generate_scenario(
            seed, ["BookshopAPI"], generators={"BookshopAPI": pack_generator(shop_for)})
        assert scenario.initial_config["BookshopAPI"]["signed_in"] == scenario.persona["username"]
    rng = random.Random(1)
    persona = draw_persona(rng)
    assert pack_generator(shop_keyword)(rng, persona) == {"signed_in": persona.first_name}
    assert len(pack_generator(shop_sized)(rng, persona)["catalog"]) == 3
