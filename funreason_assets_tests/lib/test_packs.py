"""Environment packs: the built-in BFCL pack, user packs, and malformed packs failing fast."""

import json
import random
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import pytest

from funreason_assets.lib.catalog import catalog_records, invalid_parameter_schemas
from funreason_assets.lib.environments import EnvironmentSnapshot
from funreason_assets.lib.executor import execute_text
from funreason_assets.lib.packs import PackConfigError
from funreason_assets.lib.paths import SettingsError
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.settings import load_generation_settings
from funreason_assets.lib.state import state_digest, to_jsonable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BOOKSHOP = FIXTURES / "bookshop"
BROKEN = FIXTURES / "broken_packs"


def test_builtin_pack_has_the_eight_classes_and_normalized_schemas(registry):
    assert sorted(registry.classes) == [
        "GorillaFileSystem", "MathAPI", "MessageAPI", "TicketAPI", "TradingBot", "TravelAPI",
        "TwitterAPI", "VehicleControlAPI",
    ]
    records = catalog_records(registry)
    assert len(records) == 128
    assert invalid_parameter_schemas(records) == {}
    for tool in registry.tools():
        jsonschema.Draft202012Validator.check_schema(tool.parameters)
        text = json.dumps(tool.parameters)
        for bfcl_type in ('"dict"', '"float"', '"tuple"', '"any"'):
            assert f'"type": {bfcl_type}' not in text
    # The original vocabulary is kept for the BFCL export.
    assert registry.tool("add").bfcl_doc["parameters"]["properties"]["a"]["type"] == "float"
    assert registry.tool("add").parameters["properties"]["a"]["type"] == "number"
    # Enums hidden in descriptions become JSON Schema enums, on the items of list parameters.
    assert registry.tool("startEngine").parameters["properties"]["ignitionMode"]["enum"] == [
        "START", "STOP"]
    door = registry.tool("lockDoors").parameters["properties"]["door"]
    assert door["items"]["enum"] == ["driver", "passenger", "rear_left", "rear_right"]
    assert "enum" in registry.tool("compute_exchange_rate").parameters["properties"][
        "base_currency"]


def test_user_pack_from_typed_methods_and_from_a_docs_file():
    introspected = ToolRegistry.from_config(BOOKSHOP / "bookshop_pack.yaml")
    from_docs = ToolRegistry.from_config(BOOKSHOP / "bookshop_docs_pack.json")
    assert sorted(introspected.classes) == ["BookshopAPI", "MathAPI", "TicketAPI"]
    names = sorted(t.name for t in introspected.tools(["BookshopAPI"]))
    assert names == sorted(t.name for t in from_docs.tools(["BookshopAPI"]))
    order = introspected.tool("order_book")
    assert order.required == ("book_id",)
    assert order.parameters["properties"]["quantity"] == {
        "type": "integer", "description": "How many copies to order.", "default": 1}
    assert order.description.startswith("Order copies of a book")
    assert from_docs.tool("order_book").parameters == order.parameters
    generator = introspected.classes["BookshopAPI"].scenario_generator
    config = generator(random.Random(3))
    environment = introspected.environment(["BookshopAPI"], {"BookshopAPI": config})
    book = next(iter(config["catalog"]))
    outcomes = execute_text(
        environment, f"[shop_sign_in(customer='ana', password='secret'), order_book('{book}')]")
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert outcomes[1].output == {"order_id": "ORD-0001"}


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ("unknown_field.yaml", ["unknown_field.yaml", "packs.0.classes.0.colour"]),
        ("bad_json_pack.yaml", ["bad_json_docs.json", "line 3", "invalid JSON"]),
        ("no_description_pack.yaml", ["no_description_docs.json", "'search_books'",
                                      "'description'"]),
        ("unknown_method_pack.yaml", ["unknown_method_docs.json", "'name'", "teleport"]),
        ("bad_type_pack.yaml", ["bad_type_docs.json", "properties.query.type", "strng"]),
        ("undocumented_pack.yaml", ["UndocumentedAPI.add_item", "'weight'", "Args:"]),
        ("clash_pack.yaml", ["cancel_order", "TradingBot"]),
        ("missing.yaml", ["missing.yaml", "does not exist"]),
    ],
)
def test_malformed_packs_fail_fast_naming_file_and_field(config, fragments):
    with pytest.raises(PackConfigError) as error:
        ToolRegistry.from_config(BROKEN / config)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_malformed_generation_config_names_file_and_field():
    with pytest.raises(SettingsError) as error:
        load_generation_settings(BROKEN / "bad_generation.yaml")
    assert "bad_generation.yaml" in str(error.value) and "'shards'" in str(error.value)
    assert load_generation_settings().shards >= 1


def test_environment_snapshot_restore_fork_and_diff(registry):
    config = {"TravelAPI": {"random_seed": 5, "credit_card_list": {}, "booking_record": {}}}
    environment = registry.environment(["TravelAPI", "MathAPI"], config)
    login = ("authenticate_travel(client_id='c', client_secret='s', refresh_token='r', "
             "grant_type='read_write', user_first_name='Ana', user_last_name='Lee')")
    snapshot = environment.snapshot()
    digest = environment.digest()
    first = execute_text(environment, login)[0].output["access_token"]
    assert environment.digest() != digest
    environment.restore(snapshot)
    assert environment.digest() == digest
    # The private random state is restored too: the same token is drawn again.
    assert execute_text(environment, login)[0].output["access_token"] == first
    sandbox = environment.fork()
    execute_text(sandbox, f"set_budget_limit(access_token='{first}', budget_limit=900.0)")
    differences = environment.diff(sandbox)
    assert differences == ["TravelAPI.budget_limit: expected null, got 900.0"]
    assert json.loads(json.dumps(environment.state()))["TravelAPI"]["access_token"] == first


def test_per_class_snapshots_and_digest_memo_match_whole_state(registry):
    config = {"TravelAPI": {"random_seed": 5, "credit_card_list": {}, "booking_record": {}}}
    environment = registry.environment(["TravelAPI", "MathAPI", "TicketAPI"], config)
    login = ("authenticate_travel(client_id='c', client_secret='s', refresh_token='r', "
             "grant_type='read_write', user_first_name='Ana', user_last_name='Lee')")
    memo: dict[str, str] = {}
    digest = environment.digest(memo)
    assert digest == environment.digest() == state_digest(environment.state())
    assert sorted(memo) == ["TicketAPI", "TravelAPI"]  # stateless classes have no state
    parts = environment.snapshot().parts()
    first = execute_text(environment, login)[0].output["access_token"]
    # Only the class that ran a call needs converting again.
    memo.pop("TravelAPI")
    assert environment.digest(memo) == environment.digest() != digest
    environment.restore(EnvironmentSnapshot.combine(parts.values()))
    assert environment.digest() == digest
    assert execute_text(environment, login)[0].output["access_token"] == first


def test_to_jsonable_sees_a_type_registered_as_mapping_later():
    class Record:
        def __init__(self):
            self.shown = 1

        def items(self):
            return [("key", 2)]

    assert to_jsonable({"r": Record()}) == {"r": {"shown": 1}}
    Mapping.register(Record)
    assert to_jsonable({"r": Record()}) == {"r": {"key": 2}}
