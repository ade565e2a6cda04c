"""bfcl-eval's checker replays each item from the module state its environments had at import."""

import pytest

from funreason_assets.lib.bfcl_check import _ModuleState


@pytest.fixture
def module_state():
    state = _ModuleState()
    yield state
    state.restore()  # whatever a test changed, the next one starts from the import-time state


def _saved(state: _ModuleState, module_suffix: str, name: str):
    [(module, saved)] = [
        (module, value) for module, attribute, value, _ in state.saved
        if module.__name__.endswith(module_suffix) and attribute == name
    ]
    return module, saved


def test_a_value_an_item_changed_is_put_back_and_the_others_stay(module_state):
    tickets, saved = _saved(module_state, ".ticket_api", "DEFAULT_STATE")
    cities, _ = _saved(module_state, ".vehicle_control", "INTERMEDIARY_CITIES")
    untouched = cities.INTERMEDIARY_CITIES
    tickets.DEFAULT_STATE["ticket_queue"].append({"id": 1, "title": "left by an earlier item"})

    module_state.restore()

    assert tickets.DEFAULT_STATE == saved and tickets.DEFAULT_STATE["ticket_queue"] == []
    # A fresh copy: the next item's changes never reach the saved value.
    assert tickets.DEFAULT_STATE is not saved
    # Values no item touched are not copied again.
    assert cities.INTERMEDIARY_CITIES is untouched


def test_an_equal_value_of_another_type_is_not_the_import_time_value(module_state):
    tickets, saved = _saved(module_state, ".ticket_api", "DEFAULT_STATE")
    assert isinstance(saved["ticket_counter"], int)
    tickets.DEFAULT_STATE["ticket_counter"] = float(saved["ticket_counter"])
    assert tickets.DEFAULT_STATE == saved  # equal by ==, yet a later `str()` of it differs

    module_state.restore()

    assert type(tickets.DEFAULT_STATE["ticket_counter"]) is int


def test_a_replaced_or_removed_value_is_put_back(module_state):
    tickets, saved = _saved(module_state, ".ticket_api", "DEFAULT_STATE")
    cities, saved_cities = _saved(module_state, ".vehicle_control", "INTERMEDIARY_CITIES")
    tickets.DEFAULT_STATE = {}
    del cities.INTERMEDIARY_CITIES

    module_state.restore()

    assert tickets.DEFAULT_STATE == saved
    assert cities.INTERMEDIARY_CITIES == saved_cities
