"""Fail loudly, lose nothing: each finding reproduced against the local OpenAI-compatible server.

A reply whose tool result is a huge number, a run budget shared by clients and processes, a
cost cap over an unpriced model, budget refusals in records, broken model configs, and a
provider that echoes the API key.
"""

import asyncio
import json
import logging
import socket
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest

from funreason_assets.defs.models.resources import ModelsResource
from funreason_assets.lib.executor import ParsedCall, execute_call
from funreason_assets.lib.llm.budget import Budget, BudgetExhausted, ledger_path, run_group
from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.llm.client import ModelClient, ModelRequest
from funreason_assets.lib.llm.failures import Redactor, failure_kind
from funreason_assets.lib.llm.preflight import preflight_problems
from funreason_assets.lib.llm.settings import (
    ROLES,
    ClientSettings,
    ModelSettings,
    RoleSettings,
    load_model_settings,
)
from funreason_assets.lib.reasoning import ChainConfig, run_chains
from funreason_assets.lib.record_tables import records_to_table, table_to_records
from funreason_assets.lib.roles.dispatch import RoleSet
from funreason_assets.lib.synthesis import synthesize_queries
from funreason_assets_tests.lib.test_phases_over_http import make_plan

MODEL = "openai/test-model"
KEY_ENV = "FUNREASON_FAILURES_KEY"
SECRET = "sk-failures-0123456789abcdefABCDEF"
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}
REASONER = "You are a careful assistant"
HUGE_POWER = "power(base=1000000000000000000, exponent=1024)"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def role(srv, **extra):
    return RoleSettings(model=MODEL, api_base=srv.base_url, api_key_env=KEY_ENV, timeout_s=5,
                        **extra)


def model_roles(registry, srv, cache, names=("reasoner",), budget=None, **client):
    """A role set whose named roles call the server (the others stay scripted)."""
    settings = ModelSettings(roles={name: role(srv) for name in names},
                             client=ClientSettings(**{**FAST, **client}))
    roles = {name: settings.role(name) for name in ROLES}
    model_client = ModelClient(roles, settings.client, CompletionCache(cache), budget=budget)
    return RoleSet(settings, registry, model_client), model_client


def scripted_queries(registry, plan):
    [outcome] = synthesize_queries([plan], registry, RoleSet(ModelSettings(), registry))
    assert outcome.queries
    return outcome.queries


def requests(count, prefix="q", words=0):
    return [ModelRequest(f"{prefix}{i}", "reasoner",
                         [{"role": "user", "content": f"{prefix} question {i}" + " word" * words}])
            for i in range(count)]


# ------------------------------------------------------ 1. a huge tool result breaks nothing


def step(reasoning, calls=(), answer=None):
    return {"json": {"reasoning": reasoning, "calls": list(calls), "answer": answer}}


HUGE_SCRIPT = [
    {"name": "done", "system_contains": REASONER, "user_contains": "Tool results",
     **step("That is the result.", [], "Done.")},
    {"name": "huge", "system_contains": REASONER, **step("I raise it.", [HUGE_POWER])},
]


def test_huge_power_reply_completes_the_phase_and_the_record_serializes(registry, srv,
                                                                        tmp_path):
    srv.configure(script=HUGE_SCRIPT)
    plan = make_plan(registry)
    queries = scripted_queries(registry, plan)
    for run in ("fresh", "cached"):
        roles, client = model_roles(registry, srv, tmp_path / "cache")
        [outcome] = run_chains([plan], queries, registry, roles, ChainConfig())
        client.close()
        chain = outcome.chains[0]
        assert chain.attempts and chain.drop_reason == "not_verified", run
        first = chain.attempts[0].steps[0]
        assert first.calls == [HUGE_POWER] and first.statuses == ["ok"]
        assert first.results == [{"result": "1.000000000000000e+18432 (an integer of 18433 "
                                            "digits)"}]
        # The record, and the prompt that quoted the result, serialize.
        back = table_to_records(records_to_table(outcome.chains))
        assert back == outcome.chains
        assert json.loads(chain.model_dump_json())["chain_id"] == chain.chain_id
    assert client.totals().cached > 0  # the rerun was served from the cache and still works


def test_tool_results_are_bounded_and_logarithm_is_a_number(registry):
    env = registry.environment(["MathAPI"], {}, False)
    log = execute_call(env, ParsedCall("logarithm", (), {"value": 8, "base": 2, "precision": 50}))
    assert log.ok and log.output == {"result": 3.0}
    big = execute_call(env, ParsedCall("power", (), {"base": 10**18, "exponent": 1024}))
    assert big.ok and big.output["result"].endswith("(an integer of 18433 digits)")
    json.dumps(big.feedback())
    root = execute_call(env, ParsedCall("square_root", (), {"number": 2, "precision": 1000}))
    assert root.ok and len(root.output["result"]) == 1001  # exact digits stay text


# ------------------------------------------------------ 2. one budget for the whole run


def test_budget_reservation_waits_for_a_release_and_refuses_only_what_cannot_fit(tmp_path):
    ledger = tmp_path / "run.json"
    first, second = Budget(100, None, ledger), Budget(100, None, ledger)

    async def scenario():
        await first.reserve(60, 0.0)
        waiting = asyncio.ensure_future(second.reserve(60, 0.0))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # 60 in flight + 60 > 100: it waits, it is not refused
        first.settle(60, 0.0, 25, 0.0)  # the call used 25 of its 60
        await asyncio.wait_for(waiting, 2)  # 25 spent + 60 fits
        with pytest.raises(BudgetExhausted, match="token budget 100 reached"):
            await first.reserve(80, 0.0)  # 25 + 80 > 100 even with nothing in flight
        second.settle(60, 0.0, 60, 0.0)

    asyncio.run(scenario())
    assert second.waits == 1 and first.refused == 1
    assert first.tokens_spent == second.tokens_spent == 85
    assert first.tokens_reserved == 0


def test_reservations_of_a_dead_process_are_released(tmp_path):
    ledger = tmp_path / "run.json"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{finished.stdout.strip()}"
    ledger.write_text(json.dumps({"tokens_spent": 10, "usd_spent": 0.0, "refused": 0,
                                  "in_flight": {dead: {"tokens": 80, "usd": 0.0}}}))
    budget = Budget(100, None, ledger)
    asyncio.run(asyncio.wait_for(budget.reserve(60, 0.0), 1))  # 10 + 60 fits once 80 is gone
    assert budget.waits == 0 and budget.tokens_reserved == 60


def test_two_clients_of_one_run_share_its_budget(srv, tmp_path):
    # Two assets of one run, e.g. hard_queries then reasoning_chains, each with its client.
    ledger = ledger_path(tmp_path / "cache", run_group({}, "run-1"))
    settings = ClientSettings(**FAST, concurrency=4, budget_tokens=600)
    spent, statuses = 0, []
    for name in ("hard_queries", "reasoning_chains"):
        client = ModelClient({"reasoner": role(srv, max_tokens=40)}, settings, None,
                             budget=Budget(600, None, ledger))
        batch = requests(5, prefix=name, words=60)
        replies = client.complete_many(batch)
        client.close()
        worst = max(client._worst_case(client.roles["reasoner"], r.messages) for r in batch)
        spent += sum(r.usage.prompt_tokens + r.usage.completion_tokens for r in replies)
        statuses.append([r.status for r in replies])
    assert ledger.name == "run-1.json"
    assert Budget(600, None, ledger).tokens_spent == spent <= 600
    # Alone, each client would have fit all five calls (about 65 tokens each); together the
    # second one runs into what the first one spent.
    assert statuses[0] == ["ok"] * 5 and "budget_exhausted" in statuses[1]
    assert 600 - worst < spent


WORKER = textwrap.dedent("""
    import json, sys
    import funreason_assets
    from funreason_assets.lib.llm.budget import Budget
    from funreason_assets.lib.llm.client import ModelClient, ModelRequest
    from funreason_assets.lib.llm.settings import ClientSettings, RoleSettings
    base, ledger, name = sys.argv[1:4]
    role = RoleSettings(model="openai/test-model", api_base=base, max_tokens=40,
                        api_key_env="FUNREASON_FAILURES_KEY")
    client = ModelClient({"reasoner": role}, ClientSettings(concurrency=4), None,
                         budget=Budget(1000, None, ledger))
    replies = client.complete_many([
        ModelRequest(f"{name}{i}", "reasoner",
                     [{"role": "user", "content": f"{name} {i}" + " word" * 60}])
        for i in range(30)])
    client.close()
    print(json.dumps({
        "ok": sum(r.ok for r in replies),
        "refused": sum(r.status == "budget_exhausted" for r in replies),
        "spent": sum(r.usage.prompt_tokens + r.usage.completion_tokens for r in replies),
        "worst": client._worst_case(role, [{"role": "user", "content": f"{name} 10"
                                                                   + " word" * 60}]),
    }))
""")


@pytest.mark.slow
def test_a_run_budget_shared_by_two_processes_stops_at_the_cap(srv, tmp_path):
    srv.configure(latency=0.02)
    ledger = tmp_path / "budgets" / "run.json"
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, srv.base_url, str(ledger), name],
                         stdout=subprocess.PIPE, text=True)
        for name in ("shard-a", "shard-b")
    ]
    results = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    spent = Budget(1000, None, ledger).tokens_spent
    assert spent == sum(r["spent"] for r in results)
    assert spent <= 1000 + max(r["worst"] for r in results)
    assert sum(r["refused"] for r in results) > 0 and all(r["ok"] > 0 for r in results)
    assert srv.stats(log=False)["total"] == sum(r["ok"] for r in results)


def test_a_cost_cap_over_an_unpriced_model_warns_loudly(srv, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    client = ModelClient({"reasoner": role(srv)}, ClientSettings(**FAST, budget_usd=1.0), None)
    [reply] = client.complete_many(requests(1))
    client.close()
    assert reply.ok and reply.usage.cost_usd == 0.0
    message = "budget_usd is $1 but litellm has no price for openai/test-model"
    assert message in caplog.text
    assert any(message in warning for warning in client.metadata()["warnings"])


def test_budget_refusals_are_a_record_status_never_sent_to_the_critic(registry, srv, tmp_path):
    plan = make_plan(registry)
    queries = scripted_queries(registry, plan)
    # A 50-token cap cannot fit one reasoner call's worst case: every call is refused unsent.
    roles, client = model_roles(registry, srv, tmp_path / "cache",
                                names=("reasoner", "critic", "replier"), budget_tokens=50)
    [outcome] = run_chains([plan], queries, registry, roles, ChainConfig())
    client.close()
    first, second = outcome.chains
    assert first.drop_reason == "budget_exhausted" and not first.passed
    [attempt] = first.attempts  # no retry, no critique
    assert attempt.failure_kind is None and attempt.critique is None
    assert attempt.steps[0].statuses == ["budget_exhausted"]
    assert "token budget 50 reached" in attempt.diff[0]
    assert second.drop_reason == "after_failed_round"
    assert srv.stats(log=False)["total"] == 0
    metadata = roles.accounting_metadata()
    assert metadata["failure_kinds"] == {"budget": 1}
    assert metadata["budget"]["tokens_spent"] == 0 and metadata["budget"]["refused"] == 1


def test_a_writer_refused_by_the_budget_drops_as_budget_exhausted(registry, srv, tmp_path):
    roles, client = model_roles(registry, srv, tmp_path / "cache",
                                names=("tool_abstractor", "query_writer"), budget_tokens=50)
    [outcome] = synthesize_queries([make_plan(registry)], registry, roles)
    client.close()
    assert [d.rule for d in outcome.drops] == ["budget_exhausted"]


def test_a_missing_key_is_an_auth_failure_at_once(srv, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = ModelClient({"reasoner": RoleSettings(model=MODEL, api_base=srv.base_url)},
                         ClientSettings(**FAST), None)
    [reply] = client.complete_many(requests(1))
    client.close()
    assert reply.failure == "auth" and reply.error.startswith("missing_credentials")
    assert reply.usage.retries == 0


def test_failure_kinds_name_the_run_s_circumstances():
    assert failure_kind("client_error_401: AuthenticationError: no") == "auth"
    assert failure_kind("client_error_404: NotFoundError: no") == "config"
    assert failure_kind("connection_error: APIConnectionError: refused") == "unreachable"
    assert failure_kind("server_error_503: x") == "unreachable"
    assert failure_kind("rate_limited: RateLimitError: slow down") == "rate_limited"
    assert failure_kind("invalid_output: answer: field required") == "invalid_output"
    assert failure_kind("budget_exhausted: token budget 5 reached") == "budget"


def test_an_unreachable_server_is_a_record_status(registry, tmp_path):
    plan = make_plan(registry)
    queries = scripted_queries(registry, plan)
    port = closed_port()
    settings = ModelSettings(
        roles={"reasoner": RoleSettings(model=MODEL, api_base=f"http://127.0.0.1:{port}/v1",
                                        api_key_env=KEY_ENV, timeout_s=2)},
        client=ClientSettings(**FAST, max_retries=1))
    client = ModelClient(settings.roles, settings.client, None)
    roles = RoleSet(settings, registry, client)
    [outcome] = run_chains([plan], queries, registry, roles, ChainConfig())
    client.close()
    assert outcome.chains[0].drop_reason == "model_failed:unreachable"
    assert len(outcome.chains[0].attempts) == 1


# ------------------------------------------------------ 3. a broken config fails at set-up


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(tmp_path, **reasoner):
    path = tmp_path / "models.yaml"
    fields = ", ".join(f"{key}: {value}" for key, value in reasoner.items())
    path.write_text(f"roles:\n  reasoner: {{{fields}}}\n", encoding="utf-8")
    return path


BROKEN = {
    "unknown provider": (
        {"model": "nosuchprovider/model-x"},
        "models.yaml: roles.reasoner.model: 'nosuchprovider/model-x' names no provider "
        "litellm knows",
    ),
    "unset key variable": (
        {"model": MODEL, "api_key_env": "FUNREASON_UNSET_KEY"},
        "models.yaml: roles.reasoner.api_key_env: FUNREASON_UNSET_KEY is not set",
    ),
    "unreachable api_base": (
        {"model": MODEL, "api_base": "http://127.0.0.1:{port}/v1"},
        "models.yaml: roles.reasoner.api_base: http://127.0.0.1:{port}/v1 does not accept "
        "connections on 127.0.0.1:{port}",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_models_config_fails_the_run_before_any_asset_writes(case, tmp_path,
                                                                      monkeypatch):
    monkeypatch.delenv("FUNREASON_UNSET_KEY", raising=False)
    port = closed_port()
    fields, expected = BROKEN[case]
    fields = {key: value.format(port=port) for key, value in fields.items()}
    expected = expected.format(port=port)
    config = write_config(tmp_path, **fields)
    problems = preflight_problems(load_model_settings(config), "models.yaml", timeout=1)
    assert len(problems) == 1 and expected in problems[0]
    written = tmp_path / "written"

    @dg.asset
    def uses_models(models: ModelsResource) -> None:
        written.write_text("x")

    started = time.perf_counter()
    with pytest.raises(dg.DagsterResourceFunctionError) as caught:
        dg.materialize([uses_models], resources={"models": ModelsResource(
            models_config=str(config), cache_dir=str(tmp_path / "cache"))})
    assert time.perf_counter() - started < 10
    assert expected.replace("models.yaml", str(config)) in str(caught.value.__cause__)
    assert not written.exists()


def test_a_working_models_config_passes_preflight(srv, tmp_path):
    config = write_config(tmp_path, model=MODEL, api_base=srv.base_url, api_key_env=KEY_ENV)
    assert preflight_problems(load_model_settings(config), "models.yaml") == []


# ------------------------------------------------------ 4. keys never reach records


def test_an_echoing_401_never_puts_the_key_in_records(registry, srv, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    srv.configure(script=[{"name": "echo", "match_any": True, "fault": "401"}])
    plan = make_plan(registry)
    queries = scripted_queries(registry, plan)
    roles, client = model_roles(registry, srv, tmp_path / "cache",
                                names=("reasoner", "critic", "replier"))
    [outcome] = run_chains([plan], queries, registry, roles, ChainConfig())
    client.close()
    records = records_to_table(outcome.chains).to_pylist()
    text = json.dumps(records) + json.dumps(roles.accounting_metadata()) + caplog.text
    assert SECRET not in text
    assert f"[redacted ${KEY_ENV}]" in text  # the server did echo it: the test means something
    assert outcome.chains[0].drop_reason == "model_failed:auth"
    assert srv.stats(log=False)["total"] == 1  # a refused key is not retried


def test_redactor_replaces_only_configured_key_values(monkeypatch):
    monkeypatch.setenv("SHORT_ONE", "abc")
    redactor = Redactor([KEY_ENV, "SHORT_ONE", "NOT_SET_AT_ALL"])
    assert redactor.text(f"key {SECRET}!") == f"key [redacted ${KEY_ENV}]!"
    assert redactor.text("abc stays") == "abc stays"  # too short to be a key
    assert redactor.value({"a": [SECRET]}) == {"a": [f"[redacted ${KEY_ENV}]"]}
