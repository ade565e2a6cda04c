"""Semantic value types: every type's validator and provider, and the inference of types.

Each type is judged in the context of a BFCL parameter that has it (its schema and the values
its class's code names), so a city is judged against the cities the vehicle tools know.
"""

import random
from pathlib import Path

import pytest

from funreason_assets.lib.catalog import catalog_records
from funreason_assets.lib.packs import PackConfigError
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.type_inference import documented_options, infer_parameter_type
from funreason_assets.lib.value_types import (
    VALUE_TYPES,
    ValueContext,
    provide_value,
    validate_value,
    value_type,
)

BOOKSHOP = Path(__file__).resolve().parents[1] / "fixtures" / "bookshop"
PERSONA = {
    "first_name": "Greta",
    "last_name": "Dubois",
    "username": "greta_dubois",
    "home_city": "Rivermist",
    "topics": ["the supplier contract renewal", "the warehouse relocation"],
}
LOGGED_IN = "User 'USR002' logged in successfully."

# type: (a BFCL parameter of the type or None for a bare context, a plausible value,
#        a value of the wrong type, a fragment of the reason it is rejected)
CASES = {
    "person_name": ("register_credit_card.cardholder_name", "Henrik Moreau", "Rivermist",
                    "not a first and last name"),
    "first_name": ("authenticate_travel.user_first_name", "Greta", "Greta Dubois",
                   "more than one name"),
    "last_name": ("verify_traveler_information.last_name", "Dubois", "dubois",
                  "not a capitalized name"),
    "username": ("authenticate_twitter.username", "tobias_lindqvist", "USR002",
                 "id the service issued"),
    "username_list": ("mention.mentioned_usernames", ["lumen_wren", "dmitri_u"], "lumen_wren",
                      "list of usernames"),
    "user_id": ("message_login.user_id", "USR002", "quarterly review", "not an identifier"),
    "password": ("ticket_login.password", "Harbor42!sky", "budget", "filler word 'budget'"),
    "access_token": ("book_flight.access_token", "478676", "Bearer", "plain word"),
    "client_id": ("authenticate_travel.client_id", "client_520", "meeting", "filler word"),
    "client_secret": ("authenticate_travel.client_secret", "rise_to_sky", "ab",
                      "does not look like a credential"),
    "refresh_token": ("authenticate_travel.refresh_token", "token990125", "Bearer",
                      "plain word"),
    "city": ("get_zipcode_based_on_city.city", "Rivermist", "Michael Thompson", "is not one of"),
    "airport_code": ("get_flight_cost.travel_from", "JFK", "New York", "is not one of"),
    "zipcode": ("estimate_distance.cityA", "74532", "Stonebrook", "is not one of"),
    "street_address": ("set_navigation.destination", "2107 Channing Way, Berkeley, CA",
                       "Channing Way", "is not 'street, city, state'"),
    "date": ("book_flight.travel_date", "2026-03-14", "14/03/2026", "not a date in YYYY-MM-DD"),
    "birth_date": ("verify_traveler_information.date_of_birth", "1984-06-02", "05/2029",
                   "not a date in YYYY-MM-DD"),
    "timestamp": ("get_budget_fiscal_year.lastModifiedAfter", "2024-05-01T09:30:00",
                  "2024-05-01", "not YYYY-MM-DDTHH:MM:SS"),
    "expiry_date": ("register_credit_card.expiration_date", "05/2029", "2029-05-01",
                    "not an expiry date in MM/YYYY"),
    "card_number": ("register_credit_card.card_number", "4532-1234-5678-9012", "1234",
                    "not a card number"),
    "card_verification_number": ("register_credit_card.card_verification_number", 240, "240",
                                 "expected a number"),
    "passport_number": ("verify_traveler_information.passport_number", "P12345678", "summary",
                        "not a passport number"),
    "identifier": (None, "BK1234", "two words", "not an identifier"),
    "card_id": ("book_flight.card_id", "912010830829", ["912010830829"], "not an identifier"),
    "booking_id": ("cancel_booking.booking_id", "3426812", "", "not an identifier"),
    "insurance_id": ("retrieve_invoice.insurance_id", "498276044", True, "not an identifier"),
    "order_id": ("cancel_order.order_id", 12446, 1.5, "not an identifier"),
    "ticket_id": ("get_ticket.ticket_id", 5007, "quarterly review", "not an identifier"),
    "tweet_id": ("get_tweet.tweet_id", 3, {}, "not an identifier"),
    "ticker": ("get_stock_info.symbol", "NVDA", "Nvidia", "not a stock ticker"),
    "ticker_list": ("filter_stocks_by_price.stocks", ["AAPL", "GOOG"], ["AAPL", "AAPL"],
                    "repeats a ticker"),
    "sector": ("get_available_stocks.sector", "Technology", "AMZN", "stock ticker, not a sector"),
    "company_name": ("get_symbol_by_name.name", "Apple", "AAPL", "is not one of"),
    "money_amount": ("fund_account.amount", 250.0, -20, "not positive"),
    "stock_price": ("place_order.price", 121.06, 0, "not positive"),
    "share_quantity": ("place_order.amount", 33, 2.5, "not a whole number"),
    "percentage": ("notify_price_change.threshold", 2.5, -1.1, "not positive"),
    "file_name": ("cat.file_name", "report.txt", "reports", "not a file name with an extension"),
    "new_file_name": ("touch.file_name", "notes_2025.md", "a/b.txt", "not a file name"),
    "directory_name": ("cd.folder", "drafts", "a/b", "not a directory name"),
    "file_or_directory": ("cp.source", "drafts", "a/b", "not a directory name"),
    "new_directory_name": ("mkdir.dir_name", "archive_2025", "x/y", "not a directory name"),
    "search_path": ("find.path", "docs/reports", "budget", "filler word"),
    "search_term": ("grep.pattern", "deadline", LOGGED_IN, "reads like a tool's output"),
    "message_text": ("send_message.message", "Can we go over the budget tomorrow?", LOGGED_IN,
                     "reads like a tool's output"),
    "support_message": ("contact_customer_support.message",
                        "I need to change my booking because of the conference.", "help",
                        "message of 1 words"),
    "tweet_text": ("post_tweet.content", "Finally wrapped up the onboarding checklist!",
                   "draft", "filler word"),
    "comment_text": ("comment.comment_content", "Great point about the outage!",
                     '{"status": "ok"}', "reads like a tool's output"),
    "ticket_title": ("create_ticket.title", "Slow shared drive", "Problem", "title of 1 words"),
    "ticket_description": ("create_ticket.description",
                           "Since yesterday the VPN drops every few minutes.", "notes",
                           "filler word"),
    "ticket_resolution": ("resolve_ticket.resolution",
                          "Replaced the cable and confirmed it works.", "done",
                          "resolution of 1 words"),
    "ticket_updates": ("edit_ticket.updates", {"priority": 3, "status": "Resolved"}, {},
                       "empty update changes nothing"),
    "file_text": ("echo.content", "Notes on the office move: next steps.", "scripts",
                  "file text of 1 words"),
    "log_messages": ("display_log.messages", ["Engine started normally", "Fuel level checked"],
                     ["budget"], "filler word"),
    "hashtag_list": ("post_tweet.tags", ["#travel"], ["travel"], "not hashtags"),
    "mention_list": ("post_tweet.mentions", ["@lumen_wren"], ["lumen_wren"], "not @mentions"),
    "number": ("add.a", 3.5, "3.5", "expected a number"),
    "exponent": ("power.exponent", 3, 39.5, "not a whole number"),
    "log_base": ("logarithm.base", 10, 0, "not positive"),
    "number_list": ("mean.numbers", [1, 2.5, 3], [81.4], "at least two numbers"),
    "precision": ("logarithm.precision", 4, 360, "above 20"),
    "decimal_places": ("round_number.decimal_places", 2, -16, "below 0"),
    "line_count": ("tail.lines", 10, 0, "below 1"),
    "quantity": (None, 3, 0, "below 1"),
    "text": (None, "Harbor district", "string", "filler word"),
    "priority": ("create_ticket.priority", 3, 9, "above 5"),
    "temperature": ("adjustClimateControl.temperature", 22, 300, "above 95"),
    "fan_speed": ("adjustClimateControl.fanSpeed", 50, 150, "above 100"),
    "cruise_speed": ("setCruiseControl.speed", 65, 67, "multiple of 5"),
    "following_distance": ("setCruiseControl.distanceToNextVehicle", 40, 2, "below 5"),
    "distance": ("estimate_drive_feasibility_by_mileage.distance", 120, -5, "not positive"),
    "fuel_amount": ("fillFuelTank.fuelAmount", 10, 500, "above 50"),
    "volume": ("liter_to_gallon.liter", 17.6, 0, "not positive"),
    "pedal_position": ("pressBrakePedal.pedalPosition", 0.5, 0, "not positive"),
    "insurance_type": ("purchase_insurance.insurance_type", "comprehensive", "gold",
                       "not an insurance type"),
    "ticket_status": ("get_user_tickets.status", "Open", "Logged in successfully",
                      "not a ticket status"),
    "unit": ("imperial_si_conversion.unit_in", "ft", "budget", "is not a unit"),
    "enum": ("authenticate_travel.grant_type", "read", "Bearer", "is not one of"),
    "boolean": ("ls.a", True, "true", "is not true or false"),
    "boolean_text": ("get_budget_fiscal_year.includeRemoved", "true", True,
                     "is not 'true' or 'false'"),
}
# Identifiers and tokens only the state or an earlier output holds: never made up.
STATE_ONLY = {
    "user_id", "access_token", "identifier", "card_id", "booking_id", "insurance_id",
    "order_id", "ticket_id", "tweet_id",
}


def context_of(registry: ToolRegistry, type_name: str, persona=None) -> ValueContext:
    where = CASES[type_name][0]
    if where is None:
        return ValueContext(persona=persona or {})
    tool, parameter = where.split(".")
    assert registry.value_type(tool, parameter) == type_name, where
    return registry.value_context(tool, parameter, persona)


def test_every_type_has_a_case():
    assert set(CASES) == set(VALUE_TYPES)


@pytest.mark.parametrize("type_name", sorted(VALUE_TYPES))
def test_a_plausible_value_passes_and_a_wrong_one_is_rejected_with_its_reason(
    registry, type_name
):
    _, good, bad, fragment = CASES[type_name]
    context = context_of(registry, type_name)
    assert validate_value(type_name, good, context) is None
    reason = validate_value(type_name, bad, context)
    assert reason is not None and fragment in reason, reason


@pytest.mark.parametrize(
    "type_name", sorted(name for name, kind in VALUE_TYPES.items() if kind.provide)
)
def test_providers_make_valid_values_deterministically_for_50_seeds(registry, type_name):
    provide = value_type(type_name).provide
    for persona in ({}, PERSONA):
        context = context_of(registry, type_name, persona)
        for seed in range(50):
            value = provide(random.Random(seed), context)
            assert validate_value(type_name, value, context) is None, (seed, value)
            assert provide(random.Random(seed), context) == value
            assert provide_value(type_name, random.Random(seed), context) == value


def test_identifiers_have_no_provider(registry):
    for type_name in STATE_ONLY:
        assert value_type(type_name).provide is None
        assert provide_value(type_name, random.Random(0), context_of(registry, type_name)) is None


def test_the_persona_decides_names_and_topics(registry):
    rng = random.Random(3)
    assert provide_value("username", rng, context_of(registry, "username", PERSONA)) == (
        "greta_dubois")
    full = provide_value("person_name", rng, context_of(registry, "person_name", PERSONA))
    assert full == "Greta Dubois"
    message = provide_value("message_text", rng, context_of(registry, "message_text", PERSONA))
    assert any(topic in message for topic in PERSONA["topics"])


def test_rejections_without_a_documented_set():
    bare = ValueContext()
    assert validate_value("city", "San Francisco", bare) is None
    assert "person's name" in validate_value("city", "Michael Thompson", bare)
    assert "not a plausible adult" in validate_value("birth_date", "2020-01-01", bare)
    assert validate_value("password", "i_am_not_throwing_away_my_shot", bare) is None
    assert "plain word" in validate_value("password", "Thompson", bare)
    assert validate_value("message_text", "That is true, see you at noon.", bare) is None
    with pytest.raises(KeyError, match="unknown value type"):
        value_type("galaxy")
    assert validate_value("ticket_id", None, bare) == "no value"


def test_tool_bounds_narrow_the_plausible_range_and_never_widen_it(registry):
    # round_number accepts -100..100 decimal places; a person asks for 0..10.
    context = registry.value_context("round_number", "decimal_places")
    assert context.schema["minimum"] == -100
    assert validate_value("decimal_places", -16, context) == "-16 is below 0"
    assert validate_value("decimal_places", 4, context) is None


# ---------------------------------------------------------------------- inference

INFERRED = {
    "get_zipcode_based_on_city.city": "city",
    "get_flight_cost.travel_from": "airport_code",
    "book_flight.travel_to": "airport_code",
    "authenticate_travel.grant_type": "enum",
    "ticket_login.password": "password",
    "authenticate_twitter.username": "username",
    "filter_stocks_by_price.stocks": "ticker_list",
    "get_stock_info.symbol": "ticker",
    "get_available_stocks.sector": "sector",
    "place_order.order_type": "enum",
    "place_order.amount": "share_quantity",
    "verify_traveler_information.date_of_birth": "birth_date",
    "register_credit_card.expiration_date": "expiry_date",
    "register_credit_card.cardholder_name": "person_name",
    "get_budget_fiscal_year.lastModifiedAfter": "timestamp",
    "get_budget_fiscal_year.includeRemoved": "boolean_text",
    "edit_ticket.updates": "ticket_updates",
    "get_user_tickets.status": "ticket_status",
    "send_message.message": "message_text",
    "send_message.receiver_id": "user_id",
    "get_user_id.user": "first_name",
    "post_tweet.tags": "hashtag_list",
    "post_tweet.mentions": "mention_list",
    "mention.mentioned_usernames": "username_list",
    "grep.pattern": "search_term",
    "rm.file_name": "file_or_directory",
    "touch.file_name": "new_file_name",
    "mkdir.dir_name": "new_directory_name",
    "estimate_distance.cityA": "zipcode",
    "set_navigation.destination": "street_address",
    "pressBrakePedal.pedalPosition": "pedal_position",
    "wc.mode": "enum",
    "contact_customer_support.message": "support_message",
    "book_flight.access_token": "access_token",
    "tail.lines": "line_count",
}


@pytest.mark.parametrize(("parameter", "expected"), sorted(INFERRED.items()))
def test_bfcl_parameters_get_the_expected_type(registry, parameter, expected):
    tool, name = parameter.split(".")
    assert registry.value_type(tool, name) == expected


def test_documented_sets_become_the_domain(registry):
    grant = registry.value_context("authenticate_travel", "grant_type")
    assert grant.domain == ("read_write", "read", "write")
    assert registry.value_context("place_order", "order_type").domain == ("Buy", "Sell")
    assert registry.value_context("wc", "mode").domain == ("c", "l", "w")
    assert documented_options("The class of the travel. Options are: economy, business.") == (
        "economy", "business")
    assert documented_options("Free text.") == ()


def test_every_bfcl_parameter_gets_a_type_with_a_reason(registry):
    typed = [
        registry.value_types()[tool.name][name]
        for tool in registry.tools()
        for name in tool.parameters.get("properties", {})
    ]
    assert len(typed) == 185
    assert all(t.value_type in VALUE_TYPES and t.reason for t in typed)
    assert all(t.reason != "pack override" for t in typed)


def test_inference_fails_for_a_parameter_no_rule_fits():
    with pytest.raises(LookupError, match="parameter_types"):
        infer_parameter_type("shape", "corners", {"type": "object"})


# ---------------------------------------------------------------------- pack overrides


def test_a_pack_override_shows_in_the_registry_and_the_catalog():
    shop = ToolRegistry.from_config(BOOKSHOP / "bookshop_pack.yaml")
    typed = shop.value_types()["count_inventory"]["limit"]
    assert (typed.value_type, typed.reason) == ("number", "pack override")
    assert shop.value_type("order_book", "quantity") == "quantity"  # inferred, not overridden
    record = next(r for r in catalog_records(shop) if r.name == "count_inventory")
    assert record.value_types["limit"] == {"type": "number", "reason": "pack override"}
    assert validate_value("number", 10**15, shop.value_context("count_inventory", "limit")) is None


def _pack(tmp_path, parameter_types: str):
    config = tmp_path / "typed_pack.yaml"
    config.write_text(
        "packs:\n"
        "  - name: bookshop\n"
        "    classes:\n"
        "      - class: funreason_assets_tests.fixtures.bookshop.bookshop:BookshopAPI\n"
        f"    parameter_types:\n      {parameter_types}\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("shop_sign_in.customer: galaxy",
         ["parameter_types.shop_sign_in.customer", "unknown value type 'galaxy'"]),
        ("shop_sign_in.shoe_size: number",
         ["parameter_types.shop_sign_in.shoe_size", "no such tool parameter"]),
        ("teleport.where: city", ["parameter_types.teleport.where", "no such tool parameter"]),
    ],
)
def test_a_bad_override_fails_naming_file_and_field(tmp_path, override, fragments):
    config = _pack(tmp_path, override)
    with pytest.raises(PackConfigError) as error:
        ToolRegistry.from_config(config)
    assert "typed_pack.yaml" in str(error.value)
    for fragment in fragments:
        assert fragment in str(error.value)
