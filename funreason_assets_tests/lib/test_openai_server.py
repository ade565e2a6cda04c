"""The scripted OpenAI-compatible test server, driven through the openai SDK and litellm."""

import asyncio
import json
import os
import time
import urllib.error
import urllib.request

import jsonschema
import litellm
import openai
import pydantic
import pytest

from funreason_assets.testing.openai_server import (
    FAULTS,
    ScriptError,
    example_from_schema,
    parse_script,
    request_fingerprint,
    run_server,
)

MODEL = "test-model"
DEFAULTS = {
    "script": None,
    "latency": 0.0,
    "jitter": 0.0,
    "error_latency": 0.0,
    "seed": 0,
    "faults": {},
    "retry_after": 1,
    "timeout_seconds": 60,
    "empty_as_null": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def server():
    with run_server() as handle:
        yield handle


@pytest.fixture
def srv(server):
    """The module's server with default settings, an empty script and cleared counters."""
    server.configure(**DEFAULTS)
    server.reset()
    return server


@pytest.fixture(scope="module")
def run():
    """Run coroutines on one event loop, so litellm's cached async clients stay usable."""
    with asyncio.Runner() as runner:
        yield runner.run


def user(text):
    return [{"role": "user", "content": text}]


async def ask(handle, messages, model=MODEL, **kwargs):
    if isinstance(messages, str):
        messages = user(messages)
    return await litellm.acompletion(
        model=f"openai/{model}",
        api_base=handle.base_url,
        api_key="test",
        messages=messages,
        max_retries=0,
        **kwargs,
    )


def outcomes(handle):
    return [entry["outcome"] for entry in handle.stats()["log"]]


def wait_idle(handle, seconds=3.0):
    """Wait until the server has no request in flight (a cancelled handler has finished)."""
    deadline = time.monotonic() + seconds
    while handle.stats(log=False)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return handle.stats(log=False)["in_flight"]


# ---- plain answers ----------------------------------------------------------------------------


def test_openai_sdk_gets_a_valid_echo_completion(srv):
    client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    messages = user("hello there, server")
    reply = client.chat.completions.create(model=MODEL, messages=messages)

    fingerprint = request_fingerprint(MODEL, messages)
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == MODEL
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == f"echo: {fingerprint[:16]}"
    assert reply.usage.prompt_tokens == 3
    assert reply.usage.completion_tokens == 2
    assert reply.usage.total_tokens == 5

    # The path without /v1 answers too, and the same request is recorded as a second attempt.
    bare = openai.OpenAI(base_url=srv.root_url, api_key="test", max_retries=0)
    again = bare.chat.completions.create(model=MODEL, messages=messages)
    assert again.choices[0].message.content == reply.choices[0].message.content
    stats = srv.stats()
    assert stats["total"] == 2
    assert stats["outcomes"]["ok"] == 2
    assert [(e["fingerprint"], e["attempt"]) for e in stats["log"]] == [
        (fingerprint, 0),
        (fingerprint, 1),
    ]


def test_models_lists_configured_and_scripted_models(srv):
    srv.configure(script=[{"model": "scripted-model", "content": "hi"}])
    client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    assert {model.id for model in client.models.list()} == {MODEL, "scripted-model"}


def test_bad_request_body_is_rejected_and_counted(srv):
    request = urllib.request.Request(
        srv.base_url + "/chat/completions", data=b"{not json", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request)
    assert caught.value.code == 400
    assert "error" in json.loads(caught.value.read())
    assert outcomes(srv) == ["bad_request"]


# ---- scripts ------------------------------------------------------------------------------------


def test_litellm_parses_scripted_tool_calls_and_the_follow_up(srv, run):
    srv.configure(
        script=[
            {"name": "after-tool", "last_role": "tool", "content": "Sunny in {{last_user}}"},
            {
                "name": "call-tool",
                "user_contains": "weather",
                "has_tools": True,
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}
                ],
            },
        ]
    )
    messages = user("What is the weather in Paris?")
    first = run(ask(srv, messages, tools=[WEATHER_TOOL]))

    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_")
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "c"}

    follow_up = [
        *messages,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'},
    ]
    second = run(ask(srv, follow_up, tools=[WEATHER_TOOL]))
    assert second.choices[0].message.content == "Sunny in What is the weather in Paris?"
    assert second.choices[0].message.tool_calls is None
    assert [e["rule"] for e in srv.stats()["log"]] == ["call-tool", "after-tool"]


def test_sequences_advance_per_conversation_repeat_and_restart_on_reset(srv, run):
    srv.configure(
        script=[
            {
                "name": "seq",
                "user_contains": "capital",
                "replies": [{"content": "bad answer"}, {"content": "good answer {{call}}"}],
            }
        ]
    )

    def answer(text):
        return run(ask(srv, text)).choices[0].message.content

    question = "The capital of France?"
    assert answer(question) == "bad answer"
    assert answer(question) == "good answer 1"
    assert answer(question) == "good answer 2"  # repeat_last keeps giving the last reply
    assert answer("The capital of Peru?") == "bad answer"  # its own conversation
    srv.reset()
    assert answer(question) == "bad answer"


def test_sequence_by_rule_cycle_and_fall_through(srv, run):
    srv.configure(
        script=[
            {
                "name": "shared",
                "user_contains": "shared",
                "sequence_by": "rule",
                "exhausted": "cycle",
                "replies": [{"content": "one"}, {"content": "two"}],
            },
            {
                "name": "once",
                "user_contains": "once",
                "exhausted": "next",
                "replies": [{"content": "only once"}],
            },
        ]
    )

    def answer(text):
        return run(ask(srv, text)).choices[0].message.content

    assert [answer(f"shared {i}") for i in range(3)] == ["one", "two", "one"]
    assert answer("once") == "only once"
    echo = answer("once")
    assert echo.startswith("echo: ")
    assert [e["rule"] for e in srv.stats()["log"]][-2:] == ["once", None]


def test_rules_match_model_system_and_user_regex(srv, run):
    srv.configure(
        script=[
            {"name": "by-model", "model": "special-model", "content": "special"},
            {"name": "by-system", "system_contains": "pirate", "content": "arr"},
            {"name": "by-regex", "user_regex": r"(?i)^hello\b", "content": "hi, {{model}}"},
            {"name": "fallback", "match_any": True, "content": "fallback"},
        ]
    )
    pirate = [{"role": "system", "content": "You are a pirate."}, *user("hello")]

    def answer(messages, model=MODEL):
        return run(ask(srv, messages, model=model)).choices[0].message.content

    assert answer("anything", model="special-model") == "special"
    assert answer(pirate) == "arr"
    assert answer("Hello world") == f"hi, {MODEL}"
    assert answer("say hello") == "fallback"
    assert [e["rule"] for e in srv.stats()["log"]] == [
        "by-model",
        "by-system",
        "by-regex",
        "fallback",
    ]


def test_json_template_and_schema_replies_are_valid_json(srv, run):
    srv.configure(
        script=[
            {
                "name": "json",
                "system_contains": "Answer in JSON",
                "json": {"answer": "{{last_user}}", "ok": True, "n": [1, 2]},
            }
        ]
    )
    messages = [{"role": "system", "content": "Answer in JSON."}, *user("forty-two")]
    reply = run(ask(srv, messages, response_format={"type": "json_object"}))
    assert json.loads(reply.choices[0].message.content) == {
        "answer": "forty-two",
        "ok": True,
        "n": [1, 2],
    }

    # Unscripted json_object and json_schema requests still get valid JSON.
    plain = run(ask(srv, "anything", response_format={"type": "json_object"}))
    assert set(json.loads(plain.choices[0].message.content)) == {"echo"}

    class Step(pydantic.BaseModel):
        tool: str
        arguments: dict[str, int]

    class Plan(pydantic.BaseModel):
        goal: str
        priority: int = pydantic.Field(ge=3)
        mode: str = pydantic.Field(pattern="^(fast|slow)$", default="fast")
        steps: list[Step] = pydantic.Field(min_length=2)
        note: str | None

    structured = run(ask(srv, "plan it", response_format=Plan))
    plan = Plan.model_validate_json(structured.choices[0].message.content)
    assert plan.priority == 3
    assert len(plan.steps) == 2


def test_example_from_schema_satisfies_the_schema():
    schema = {
        "type": "object",
        "$defs": {"Unit": {"enum": ["c", "f"]}},
        "properties": {
            "city": {"type": "string", "minLength": 12},
            "when": {"type": "string", "format": "date-time"},
            "unit": {"$ref": "#/$defs/Unit"},
            "days": {"type": "integer", "exclusiveMinimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "extra": {"anyOf": [{"type": "null"}, {"type": "number", "minimum": 1.5}]},
            "both": {"allOf": [{"properties": {"a": {"type": "boolean"}}}, {"required": ["a"]}]},
        },
        "required": ["city", "when", "unit", "days", "tags", "extra", "both"],
        "additionalProperties": False,
    }
    instance = example_from_schema(schema)
    jsonschema.validate(instance, schema)
    assert instance["unit"] == "c"
    assert instance["extra"] == 1.5


def test_latency_is_per_server_and_overridable_per_rule(srv, run):
    srv.configure(latency=0.3, script=[{"user_contains": "fast", "latency": 0, "content": "ok"}])

    def timed(text):
        start = time.perf_counter()
        run(ask(srv, text))
        return time.perf_counter() - start

    assert timed("slow please") >= 0.3
    assert timed("fast please") < 0.25


def test_concurrent_requests_are_neither_lost_nor_duplicated(srv, run):
    srv.configure(latency=0.2)
    count = 100
    conversations = [user(f"request number {i}") for i in range(count)]

    async def burst():
        return await asyncio.gather(*(ask(srv, messages) for messages in conversations))

    start = time.perf_counter()
    replies = run(burst())
    elapsed = time.perf_counter() - start

    expected = {request_fingerprint(MODEL, messages) for messages in conversations}
    for messages, reply in zip(conversations, replies, strict=True):
        fingerprint = request_fingerprint(MODEL, messages)
        assert reply.choices[0].message.content == f"echo: {fingerprint[:16]}"
    stats = srv.stats()
    assert stats["total"] == count
    assert stats["outcomes"]["ok"] == count
    assert sorted(e["fingerprint"] for e in stats["log"]) == sorted(expected)
    assert {e["attempt"] for e in stats["log"]} == {0}
    assert stats["max_in_flight"] >= count // 2
    assert elapsed < 2.0


def test_streaming_sends_chunks_that_add_up_to_the_reply(srv):
    srv.configure(
        script=[
            {"user_contains": "story", "content": "once upon a time there was a server"},
            {
                "user_contains": "tool",
                "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}],
            },
        ]
    )
    client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=user("tell a story"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "once upon a time there was a server"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == 8

    calls = [
        call
        for chunk in client.chat.completions.create(
            model=MODEL, messages=user("use a tool"), stream=True
        )
        for call in (chunk.choices[0].delta.tool_calls or [])
    ]
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    assert [e["stream"] for e in srv.stats()["log"]] == [True, True]


# ---- faults -----------------------------------------------------------------------------------

LITELLM_ERRORS = {
    "429": litellm.RateLimitError,
    "500": litellm.InternalServerError,
    "503": litellm.ServiceUnavailableError,
    "timeout": litellm.Timeout,
    "drop": litellm.InternalServerError,  # litellm 1.101.6 reports "Connection error." so
    "malformed": litellm.InternalServerError,  # and the JSON decoding error so
    "401": litellm.AuthenticationError,
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_reaches_litellm_as_its_error(srv, run, fault):
    srv.configure(faults={fault: 1.0})
    if fault == "empty":
        reply = run(ask(srv, f"trigger {fault}"))
        assert reply.choices[0].message.content == ""
        srv.configure(empty_as_null=True)
        reply = run(ask(srv, f"trigger {fault} again"))
        assert reply.choices[0].message.content is None
        expected = 2
    else:
        with pytest.raises(LITELLM_ERRORS[fault]) as caught:
            run(ask(srv, f"trigger {fault}", timeout=0.5))
        if fault == "drop":
            assert "Connection error" in str(caught.value)
        expected = 1
    stats = srv.stats()
    assert stats["total"] == expected
    assert stats["outcomes"] == {
        name: expected if name == fault else 0 for name in ("ok", *FAULTS, "bad_request")
    }
    assert outcomes(srv) == [fault] * expected
    assert wait_idle(srv) == 0  # a timed-out or dropped request does not linger


def test_openai_sdk_sees_retry_after_connection_and_timeout_errors(srv):
    client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0, timeout=0.5)
    srv.configure(faults={"429": 1.0}, retry_after=3)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("a"))
    assert caught.value.response.headers["retry-after"] == "3"
    srv.configure(faults={"drop": 1.0})
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=MODEL, messages=user("b"))
    srv.configure(faults={"timeout": 1.0})
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=MODEL, messages=user("c"))
    assert outcomes(srv) == ["429", "drop", "timeout"]
    assert wait_idle(srv) == 0


def test_faults_are_reproducible_and_retries_can_succeed(srv, run):
    questions = [user(f"question {i}") for i in range(40)]

    async def first_attempts():
        results = await asyncio.gather(
            *(ask(srv, messages) for messages in questions), return_exceptions=True
        )
        return [not isinstance(result, Exception) for result in results]

    srv.configure(faults={"500": 0.5}, seed=7)
    first = run(first_attempts())
    assert 8 <= first.count(False) <= 32
    by_fingerprint = {e["fingerprint"]: e["outcome"] for e in srv.stats()["log"]}

    srv.reset()
    assert run(first_attempts()) == first
    assert {e["fingerprint"]: e["outcome"] for e in srv.stats()["log"]} == by_fingerprint

    # A retry of the same request draws afresh, so every failed request succeeds eventually.
    for messages, ok in zip(questions, first, strict=True):
        for _ in range(30):
            if ok:
                break
            try:
                run(ask(srv, messages))
                ok = True
            except litellm.InternalServerError:
                pass
        assert ok
    log = srv.stats()["log"]
    assert max(e["attempt"] for e in log) >= 1
    assert sum(e["outcome"] == "ok" for e in log) == len(questions)

    srv.reset()
    srv.configure(seed=8)
    assert run(first_attempts()) != first


def test_a_scripted_fault_is_consumed_from_the_sequence(srv, run):
    srv.configure(
        script=[{"match_any": True, "replies": [{"fault": "503"}, {"content": "recovered"}]}]
    )
    with pytest.raises(litellm.ServiceUnavailableError):
        run(ask(srv, "hi"))
    assert run(ask(srv, "hi")).choices[0].message.content == "recovered"
    assert outcomes(srv) == ["503", "ok"]


def test_control_rejects_bad_settings_and_keeps_the_old_ones(srv):
    srv.configure(faults={"429": 0.25}, script=[{"match_any": True, "content": "x"}])
    bad = [
        {"faults": {"429": 0.7, "500": 0.5}},
        {"faults": {"teapot": 0.1}},
        {"latency": -1},
        {"script": [{"user_contains": "a", "content": "x", "colour": "red"}]},
        {"script": [{"content": "no criteria"}]},
        {"script": [{"match_any": True, "content": "{{nope}}"}]},
        {"surprise": 1},
    ]
    for changes in bad:
        with pytest.raises(ScriptError):
            srv.configure(**{"latency": 0.5, **changes})
    config = srv.configure()
    assert config["faults"]["429"] == 0.25
    assert config["latency"] == 0.0
    assert config["rules"] == ["rule-0"]


def test_parse_script_accepts_every_reply_form():
    rules = parse_script(
        {
            "rules": [
                {"match_any": True, "reply": {"content": "a"}},
                {"match_any": True, "replies": [{"fault": "drop"}, {"json": {"k": 1}}]},
                {"match_any": True, "tool_calls": [{"name": "f", "arguments": "{}"}]},
            ]
        }
    )
    assert [len(rule.replies) for rule in rules] == [1, 2, 1]
    with pytest.raises(ScriptError):
        parse_script([{"match_any": True, "content": "a", "reply": {"content": "b"}}])


# ---- the harness ------------------------------------------------------------------------------


def test_script_file_and_command_line_faults_then_clean_shutdown(tmp_path, run):
    script = tmp_path / "rules.jsonl"
    script.write_text(
        "# scripted answers\n"
        + json.dumps({"name": "greet", "user_contains": "hi", "content": "hello from file"})
        + "\n\n"
    )
    with run_server(script=script, faults={"empty": 1.0}, seed=3) as handle:
        assert handle.base_url == f"http://127.0.0.1:{handle.port}/v1"
        assert run(ask(handle, "hi")).choices[0].message.content == ""
        config = handle.configure(faults={})
        assert config["seed"] == 3
        assert config["rules"] == ["greet"]
        assert run(ask(handle, "hi")).choices[0].message.content == "hello from file"
        assert outcomes(handle) == ["empty", "ok"]
        process = handle.process
    assert process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


def test_startup_failure_is_reported_and_leaves_nothing_running(tmp_path):
    with pytest.raises(RuntimeError, match="cannot start"):
        with run_server(script=tmp_path / "missing.json"):
            pass
