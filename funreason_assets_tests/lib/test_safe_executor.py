"""The safe call executor: parsing, binding, dispatch and every error path."""

import ast
import time
from pathlib import Path

import pytest

from funreason_assets.lib.executor import (
    CallParseError,
    execute_text,
    format_call,
    parse_calls,
)
from funreason_assets.lib.registry import ToolRegistry

BOOKSHOP = Path(__file__).resolve().parents[1] / "fixtures" / "bookshop" / "bookshop_pack.yaml"


@pytest.fixture(scope="module")
def shop():
    registry = ToolRegistry.from_config(BOOKSHOP)
    config = {"catalog": {"BK1": {"title": "Patterns of Rain", "price": 12}}}
    return registry.environment(["BookshopAPI", "MathAPI"], {"BookshopAPI": config})


def statuses(environment, text):
    return [(o.status, o.error) for o in execute_text(environment, text)]


def test_parse_single_list_and_positional_calls():
    calls = parse_calls("[add(a=1, b=2.5), search_books('rain'), f(x=[1, {'k': None}], y=-3)]")
    assert [c.name for c in calls] == ["add", "search_books", "f"]
    assert calls[1].args == ("rain",)
    assert calls[2].kwargs == {"x": [1, {"k": None}], "y": -3}
    assert format_call("add", {"a": 1, "b": "x"}) == "add(a=1, b='x')"


@pytest.mark.parametrize(
    "text",
    [
        "os.system('ls')", "__import__('os')", "add(a=__import__('os'))", "add(a=x)",
        "add(a=[i for i in range(3)])", "add(a=lambda: 1)", "add(a=f'{1}')", "add(**{'a': 1})",
        "add(*[1, 2])", "add(a=1 + 2)", "add(a=open('f'))", "(lambda: 1)()", "x = 1", "",
        "add(a=1", "add(a=b'x')", "add(a=1j)", "add(a={1, 2})", "add(a=10**100)", "_private()",
        "add(a=(yield))", "add(a=(y := 3))", "getattr(add, '__globals__')",
    ],
)
def test_hostile_call_text_is_rejected(shop, text):
    outcomes = execute_text(shop, text)
    assert len(outcomes) >= 1
    assert all(o.status == "rejected" and o.error for o in outcomes)


def test_binding_errors_are_reported_with_the_argument(shop):
    assert statuses(shop, "teleport()")[0][0] == "rejected"
    assert "unknown tool 'teleport'" in statuses(shop, "teleport()")[0][1]
    assert "no parameter 'c'" in statuses(shop, "add(a=1, b=2, c=3)")[0][1]
    assert "missing required argument 'b'" in statuses(shop, "add(a=1)")[0][1]
    assert "must be of type number, got boolean" in statuses(shop, "add(a=True, b=1)")[0][1]
    assert "must be of type integer, got string" in statuses(shop, "order_book('BK1', '2')")[0][1]
    assert "numbers[1]" in statuses(shop, "sum_values(numbers=[1, 'two'])")[0][1]
    assert "got argument 'a' twice" in statuses(shop, "add(1, a=2)")[0][1]
    assert "takes 2 arguments" in statuses(shop, "add(1, 2, 3)")[0][1]
    assert "<= 1024" in statuses(shop, "power(base=2, exponent=99999999)")[0][1]


def test_enum_violation_is_rejected():
    registry = ToolRegistry.builtin()
    car = registry.environment(["VehicleControlAPI"], {})
    assert "must be one of" in statuses(car, "startEngine(ignitionMode='GO')")[0][1]
    assert statuses(car, "lockDoors(unlock=False, door=['driver', 'trunk'])")[0][0] == "rejected"


def test_tool_errors_exceptions_and_success(shop):
    assert statuses(shop, "order_book(book_id='BK1')") == [
        ("tool_error", "Sign in before ordering.")]
    outcome = execute_text(shop, "broken_report()")[0]
    assert outcome.status == "exception"
    assert "RuntimeError: report backend is down" in outcome.error
    assert outcome.feedback() == {"error": outcome.error}
    ok = execute_text(shop, "search_books(query='rain')")[0]
    assert ok.ok and ok.output == {"books": [{"book_id": "BK1", "title": "Patterns of Rain",
                                              "price": 12}]}


def test_a_list_of_only_errors_is_a_tool_error(registry):
    environment = registry.environment(["TradingBot"], {"TradingBot": {"authenticated": False}})
    [outcome] = execute_text(environment, "get_order_history()")
    assert outcome.status == "tool_error" and not outcome.ok
    assert "Please log in to view order history" in outcome.error
    [logged_in] = execute_text(environment, "trading_login(username='a', password='Quartz87*r')")
    assert logged_in.ok
    [history] = execute_text(environment, "get_order_history()")
    assert history.ok and isinstance(history.output["history"], list)


def test_timeout_interrupts_python_loops_and_leaves_no_stray_interrupt(shop):
    started = time.perf_counter()
    outcome = execute_text(shop, "count_inventory(limit=1000000000000000)", timeout=0.2)[0]
    assert outcome.status == "timeout" and "0.2" in outcome.error
    assert time.perf_counter() - started < 5
    # Hundreds of quick calls and a busy loop afterwards: no interrupt arrives late.
    for _ in range(300):
        assert execute_text(shop, "add(a=1, b=2)")[0].output == {"result": 3}
    deadline = time.perf_counter() + 0.3
    while time.perf_counter() < deadline:
        pass
    assert execute_text(shop, "count_inventory(limit=1000)")[0].output == {"count": 1000}


def test_no_eval_or_exec_anywhere_in_the_package():
    package = Path(__file__).resolve().parents[2] / "funreason_assets"
    offenders = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders.extend(
            f"{path.name}:{node.lineno}:{node.func.id}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"eval", "exec", "compile", "__import__"}
        )
    assert offenders == []


def test_parse_errors_are_typed():
    with pytest.raises(CallParseError):
        parse_calls("add(a=1) + add(a=2)")
    with pytest.raises(CallParseError):
        parse_calls("x" * 200_000)


def test_a_result_is_cut_in_the_same_order_the_budget_is_spent(monkeypatch):
    # A value is bounded before its key, listing items in order; what is cut, and where, is
    # part of the recorded ground truth, so it never changes with how the walk is written.
    import funreason_assets.lib.executor as executor

    monkeypatch.setattr(executor, "MAX_RESULT_CHARS", 40)
    value = {"alpha": "x" * 20, "beta": "y" * 20, "gamma": [1, "zzzz"], "delta": {"k": 2}}
    assert executor.bounded_output(value) == {
        "alpha": "x" * 20,
        "... [4 more characters cut]": "yyyyyyyyy... [11 more characters cut]",
        "...": "[2 more keys cut]",
    }
    assert executor.bounded_output(["a" * 10, 5, 2.5, "b" * 30, "c"]) == [
        "a" * 10, 5, 2.5, "bbbbbbbbbb... [20 more characters cut]", "... [1 more items cut]"]
