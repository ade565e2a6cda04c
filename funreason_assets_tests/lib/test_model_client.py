"""The model client through litellm against a real local HTTP server with injected faults."""

import subprocess
import sys
from collections import Counter

import pytest
from pydantic import BaseModel

from funreason_assets.lib.llm.cache import CompletionCache
from funreason_assets.lib.llm.client import ModelClient, ModelRequest
from funreason_assets.lib.llm.settings import (
    ClientSettings,
    RoleSettings,
    load_model_settings,
)
from funreason_assets.lib.paths import SettingsError

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}


class Answer(BaseModel):
    answer: str
    confidence: float


def client_for(handle, tmp_path, timeout_s=5.0, **settings):
    role = RoleSettings(model="openai/test-model", api_base=handle.base_url,
                        api_key_env="FUNREASON_TEST_KEY", timeout_s=timeout_s)
    return ModelClient(
        {"reasoner": role, "critic": role},
        ClientSettings(**{**FAST, **settings}),
        CompletionCache(tmp_path / "cache"),
    )


def requests_for(count, role="reasoner", prefix="q"):
    return [
        ModelRequest(request_id=f"{prefix}{i}", role=role,
                     messages=[{"role": "user", "content": f"question number {i}"}])
        for i in range(count)
    ]


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("FUNREASON_TEST_KEY", "test-key")


def test_tool_calls_come_back_parsed_over_http(srv, tmp_path):
    srv.configure(script=[{"user_contains": "weather", "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris"}}]}])
    client = client_for(srv, tmp_path)
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}
    [reply] = client.complete_many([ModelRequest(
        "w", "reasoner", [{"role": "user", "content": "weather in Paris?"}], tools=[tool])])
    client.close()
    assert reply.ok and reply.tool_calls[0]["name"] == "get_weather"
    assert reply.tool_calls[0]["arguments"] == {"city": "Paris"}
    assert reply.usage.prompt_tokens > 0 and reply.usage.http_calls == 1


def test_faults_lose_nothing_and_duplicate_nothing(srv, tmp_path):
    srv.configure(faults={"429": 0.15, "500": 0.1, "503": 0.05, "drop": 0.05,
                          "malformed": 0.05, "empty": 0.05, "timeout": 0.03},
                  timeout_seconds=30, seed=7)
    client = client_for(srv, tmp_path, timeout_s=0.5, concurrency=16, max_retries=6)
    batch = requests_for(80)
    # The same content asked twice in one batch is answered by one call.
    batch += [ModelRequest("again", "reasoner", batch[3].messages)]
    replies = client.complete_many(batch)
    client.close()
    assert [r.request_id for r in replies] == [r.request_id for r in batch]
    statuses = Counter(r.status for r in replies)
    assert set(statuses) <= {"ok", "failed"}
    for reply in replies:
        if reply.status == "failed":
            assert reply.error and reply.error.split(":")[0] in {
                "timeout", "rate_limited", "server_error_500", "server_error_503",
                "connection_error", "unreadable_response", "empty_content"}
        else:
            assert reply.text.startswith("echo: ")
    stats = srv.stats()
    log = stats["log"]
    ok_per_fingerprint = Counter(e["fingerprint"] for e in log if e["outcome"] == "ok")
    # No request content was answered successfully twice: retries only follow failures.
    assert max(ok_per_fingerprint.values()) == 1
    assert len(ok_per_fingerprint) == statuses["ok"] - 1  # "again" shared its twin's call
    faults = sum(count for name, count in stats["outcomes"].items() if name != "ok")
    assert faults > 10  # the rates really injected failures
    totals = client.totals()
    assert totals.http_calls == stats["total"]
    assert totals.retries == stats["total"] - len({e["fingerprint"] for e in log})
    assert replies[-1].cached and replies[-1].text == replies[3].text


def test_cache_prevents_every_repeat_call(srv, tmp_path):
    first = client_for(srv, tmp_path)
    replies = first.complete_many(requests_for(20))
    first.close()
    assert srv.stats(log=False)["total"] == 20
    second = client_for(srv, tmp_path)
    again = second.complete_many(requests_for(20, prefix="rerun"))
    second.close()
    assert srv.stats(log=False)["total"] == 20  # not one new request
    assert all(r.cached for r in again)
    assert [r.text for r in again] == [r.text for r in replies]
    assert second.totals().cached == 20 and second.totals().fresh == 0
    assert first.totals().fresh == 20 and first.totals().cached == 0


def test_structured_output_retries_with_the_validation_error(srv, tmp_path):
    srv.configure(script=[
        {"system_contains": "good eventually", "replies": [
            {"content": "not json at all"},
            {"content": '{"answer": "yes", "confidence": 0.9}'}]},
        {"system_contains": "never good", "content": '{"answer": 3}'},
    ])
    client = client_for(srv, tmp_path, structured_retries=2)
    good, bad = client.complete_many([
        ModelRequest("g", "critic", [{"role": "system", "content": "good eventually"},
                                     {"role": "user", "content": "go"}], response_model=Answer),
        ModelRequest("b", "critic", [{"role": "system", "content": "never good"},
                                     {"role": "user", "content": "go"}], response_model=Answer),
    ])
    client.close()
    assert good.ok and good.parsed == Answer(answer="yes", confidence=0.9)
    assert good.usage.structured_retries == 1 and good.invalid_outputs == ["not json at all"]
    assert bad.status == "failed" and bad.error.startswith("invalid_output")
    assert bad.invalid_outputs == ['{"answer": 3}'] * 3
    assert srv.stats(log=False)["total"] == 2 + 3


def test_budget_stops_new_calls_where_it_should(srv, tmp_path):
    client = client_for(srv, tmp_path, concurrency=1)
    probe = client.complete_many(requests_for(1, prefix="probe"))[0]
    per_call = probe.usage.prompt_tokens + probe.usage.completion_tokens
    worst = client._worst_case(client.roles["reasoner"], requests_for(1)[0].messages)
    client.close()
    srv.reset()
    # Room for exactly three worst cases: the fourth call must be refused before it is sent.
    limit = 3 * worst + worst // 2
    capped = client_for(srv, tmp_path / "fresh", concurrency=1, budget_tokens=limit)
    replies = capped.complete_many(requests_for(10))
    capped.close()
    statuses = [r.status for r in replies]
    sent = srv.stats(log=False)["total"]
    assert statuses.count("ok") == sent
    assert statuses.count("budget_exhausted") == 10 - sent
    assert sent >= 3  # actual use is below the worst case, so at least the reserved three
    assert capped.budget.tokens_spent <= limit
    assert capped.budget.tokens_spent == sum(
        r.usage.prompt_tokens + r.usage.completion_tokens for r in replies)
    assert all("token budget" in r.error for r in replies if r.status == "budget_exhausted")
    assert per_call > 0


def test_budget_holds_under_concurrency(srv, tmp_path):
    srv.configure(latency=0.02)
    client = client_for(srv, tmp_path, concurrency=8, budget_tokens=2000)
    replies = client.complete_many(requests_for(30))
    client.close()
    # Two worst cases (about 1,030 tokens each) never fit at once: reservations wait for the
    # call in flight to settle instead of being refused while almost nothing is spent.
    assert client.budget.tokens_spent <= 2000
    assert all(r.ok for r in replies) and client.budget.waits > 0
    stats = srv.stats(log=False)
    assert stats["max_in_flight"] == 1 and stats["total"] == 30


def test_non_retryable_errors_fail_at_once(srv, tmp_path):
    client = client_for(srv, tmp_path)
    [reply] = client.complete_many([ModelRequest(
        "bad", "reasoner", [{"role": "user", "content": "x"}])])
    assert reply.ok
    broken = ModelClient(
        {"reasoner": RoleSettings(model="openai/test-model",
                                  api_base=srv.base_url.replace("/v1", "/nowhere"),
                                  api_key_env="FUNREASON_TEST_KEY")},
        ClientSettings(**FAST), None)
    [failed] = broken.complete_many([ModelRequest("nf", "reasoner",
                                                  [{"role": "user", "content": "y"}])])
    broken.close()
    client.close()
    assert failed.status == "failed" and failed.error.startswith("client_error_404")
    assert failed.usage.retries == 0


def test_importing_the_client_touches_no_network_and_not_litellm():
    code = (
        "import sys, socket\n"
        "def deny(*a, **k): raise SystemExit('network attempted')\n"
        "socket.socket.connect = deny\n"
        "import funreason_assets.lib.llm.client, funreason_assets.lib.roles.dispatch\n"
        "import funreason_assets.definitions as d; d.defs()\n"
        "print('litellm' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "False"


def test_models_config_errors_name_file_and_field(tmp_path):
    bad = tmp_path / "models.yaml"
    bad.write_text("roles:\n  reasoner:\n    temperature: 9\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"models.yaml: field 'roles.reasoner.temperature'"):
        load_model_settings(bad)
    bad.write_text("roles:\n  poet: {model: scripted}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown role"):
        load_model_settings(bad)


def test_cost_comes_from_the_local_price_map_and_caps_the_run(srv, tmp_path):
    role = RoleSettings(model="openai/gpt-4o-mini", api_base=srv.base_url,
                        api_key_env="FUNREASON_TEST_KEY", max_tokens=50)
    client = ModelClient({"reasoner": role}, ClientSettings(**FAST, concurrency=1),
                         CompletionCache(tmp_path / "priced"))
    [reply] = client.complete_many(requests_for(1, prefix="priced"))
    assert reply.ok and reply.usage.cost_usd > 0
    per_call = reply.usage.cost_usd
    client.close()
    capped = ModelClient({"reasoner": role},
                         ClientSettings(**FAST, concurrency=1, budget_usd=per_call * 40),
                         None)
    replies = capped.complete_many(requests_for(200, prefix="spend"))
    capped.close()
    refused = [r for r in replies if r.status == "budget_exhausted"]
    assert refused and all("cost budget" in r.error for r in refused)
    assert capped.budget.usd_spent <= per_call * 40
    assert capped.totals().cost_usd == pytest.approx(capped.budget.usd_spent)
