"""Training exports: the curated dialogues in three chat layouts, each parsed back after writing.

- `funreason`: the released FunReason-MT layout: a system prompt holding the tools, then user /
  assistant (`<think>...</think>` followed by a call list, or by the closing reply) / tool (all
  results of one step) messages, and the boolean `error_tool_response`;
- `openai`: chat messages with `tools`, assistant `tool_calls` (arguments as JSON strings),
  `reasoning_content`, and one tool message per call (JSONL and HF-datasets-ready Parquet);
- `sharegpt`: LLaMA-Factory's ShareGPT with `function_call` and `observation` roles.
Optionally every dialogue is also split at each assistant message, earlier reasoning stripped
(the paper's training recipe), for the FunReason and OpenAI layouts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from funreason_assets.lib.atomic import atomic_path
from funreason_assets.lib.bfcl_format import dialogue_category, write_jsonl
from funreason_assets.lib.checks import CheckSpec, PhaseResult, Verdict
from funreason_assets.lib.executor import parse_calls
from funreason_assets.lib.records import ReasonedTurn, VerifiedDialogue
from funreason_assets.lib.registry import ToolRegistry

SFT_CHECK = CheckSpec(
    "every_row_parses_back",
    "Every written row of every training format is read back and validated against its layout.",
)
SFT_CHECKS = (SFT_CHECK,)

SYSTEM_PROMPT = (
    "You are an assistant that completes the user's requests by calling functions. Think "
    "step by step inside <think></think>, then either call functions as a Python-style list "
    "like [func(a=1), other(b='x')] or answer the user. If a required value is missing, ask "
    "for it; if no function can do what is asked, say so."
)
_THINK = re.compile(r"^<think>(.*?)</think>\n?", re.DOTALL)


def _tools(dialogue: VerifiedDialogue, registry: ToolRegistry) -> list[Any]:
    return registry.tools(dialogue.involved_classes)


def _withheld_until(dialogue: VerifiedDialogue) -> dict[int, list[str]]:
    """Turn index -> functions added back at that turn (missing-function dialogues)."""
    added: dict[int, list[str]] = {}
    for index, turn in enumerate(dialogue.turns):
        if turn.mode == "decline" and index + 1 < len(dialogue.turns):
            added[index + 1] = list(turn.tools_hidden)
    return added


def _call_list(calls: Sequence[str]) -> str:
    return "[" + ", ".join(calls) + "]"


def _results_text(results: Sequence[Any]) -> str:
    return json.dumps(list(results), ensure_ascii=False, default=str)


def funreason_row(dialogue: VerifiedDialogue, registry: ToolRegistry) -> dict[str, Any]:
    """The released FunReason-MT layout."""
    tools = _tools(dialogue, registry)
    added = _withheld_until(dialogue)
    withheld = {name for names in added.values() for name in names}
    docs = [tool.bfcl_doc for tool in tools if tool.name not in withheld]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT + "\nFunctions:\n" + json.dumps(docs)}
    ]
    for index, turn in enumerate(dialogue.turns):
        if index in added:
            new = [tool.bfcl_doc for tool in tools if tool.name in added[index]]
            messages.append(
                {"role": "system", "content": "New functions are available:\n" + json.dumps(new)}
            )
        messages.append({"role": "user", "content": turn.user})
        messages.extend(_assistant_messages(turn))
    return {
        "id": dialogue.dialogue_id,
        "category": dialogue_category(dialogue),
        "messages": messages,
        "error_tool_response": any(turn.error_tool_response for turn in dialogue.turns),
    }


def _assistant_messages(turn: ReasonedTurn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    final_reasoning = ""
    for step in turn.steps:
        if step.calls:
            messages.append(
                {"role": "assistant",
                 "content": f"<think>{step.reasoning}</think>\n{_call_list(step.calls)}"}
            )
            messages.append({"role": "tool", "content": _results_text(step.results)})
        else:
            final_reasoning = step.reasoning
    messages.append(
        {"role": "assistant", "content": f"<think>{final_reasoning}</think>\n{turn.reply}"}
    )
    return messages


def openai_row(dialogue: VerifiedDialogue, registry: ToolRegistry) -> dict[str, Any]:
    """OpenAI chat messages with `tools` and `tool_calls`."""
    tools = _tools(dialogue, registry)
    added = _withheld_until(dialogue)
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    for index, turn in enumerate(dialogue.turns):
        if index in added:
            messages.append(
                {"role": "system",
                 "content": "New functions are available: " + ", ".join(added[index])}
            )
        messages.append({"role": "user", "content": turn.user})
        final_reasoning = ""
        for step_index, step in enumerate(turn.steps):
            if not step.calls:
                final_reasoning = step.reasoning
                continue
            calls = []
            for call_index, text in enumerate(step.calls):
                [parsed] = parse_calls(text)
                calls.append(
                    {
                        "id": f"call_{index}_{step_index}_{call_index}",
                        "type": "function",
                        "function": {
                            "name": parsed.name,
                            "arguments": json.dumps(dict(parsed.kwargs), ensure_ascii=False),
                        },
                    }
                )
            messages.append(
                {"role": "assistant", "content": None, "reasoning_content": step.reasoning,
                 "tool_calls": calls}
            )
            messages.extend(
                {"role": "tool", "tool_call_id": call["id"],
                 "content": json.dumps(result, ensure_ascii=False, default=str)}
                for call, result in zip(calls, step.results, strict=True)
            )
        messages.append(
            {"role": "assistant", "content": turn.reply, "reasoning_content": final_reasoning}
        )
    return {
        "id": dialogue.dialogue_id,
        "category": dialogue_category(dialogue),
        "messages": messages,
        "tools": [tool.openai_tool() for tool in tools],
        "error_tool_response": any(turn.error_tool_response for turn in dialogue.turns),
    }


def sharegpt_row(dialogue: VerifiedDialogue, registry: ToolRegistry) -> dict[str, Any]:
    """LLaMA-Factory ShareGPT with function_call / observation roles."""
    conversations: list[dict[str, str]] = []
    for turn in dialogue.turns:
        conversations.append({"from": "human", "value": turn.user})
        final_reasoning = ""
        for step in turn.steps:
            if not step.calls:
                final_reasoning = step.reasoning
                continue
            parsed = [call for text in step.calls for call in parse_calls(text)]
            conversations.append(
                {"from": "function_call", "value": json.dumps(
                    [{"name": c.name, "arguments": dict(c.kwargs)} for c in parsed],
                    ensure_ascii=False)}
            )
            conversations.append({"from": "observation", "value": _results_text(step.results)})
        conversations.append(
            {"from": "gpt", "value": f"<think>{final_reasoning}</think>\n{turn.reply}"}
        )
    tools = [tool.openai_tool()["function"] for tool in _tools(dialogue, registry)]
    return {
        "id": dialogue.dialogue_id,
        "conversations": conversations,
        "system": SYSTEM_PROMPT,
        "tools": json.dumps(tools, ensure_ascii=False),
    }


def split_at_assistant_turns(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One sample per assistant message: the context so far, earlier reasoning stripped."""
    samples = []
    messages = row["messages"]
    for position, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        context = []
        for earlier in messages[:position]:
            earlier = dict(earlier)
            if earlier["role"] == "assistant":
                if isinstance(earlier.get("content"), str):
                    earlier["content"] = _THINK.sub("", earlier["content"])
                earlier.pop("reasoning_content", None)
            context.append(earlier)
        samples.append(
            {**{k: v for k, v in row.items() if k != "messages"},
             "id": f"{row['id']}#{position}", "messages": [*context, dict(message)]}
        )
    return samples


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class _ChatRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    messages: list[_Message]


def row_problems(row: Mapping[str, Any], layout: str) -> list[str]:
    """What is wrong with one exported row of a layout (empty when it parses back)."""
    try:
        if layout == "sharegpt":
            return _sharegpt_problems(row)
        parsed = _ChatRow.model_validate(row)
    except (ValidationError, ValueError, KeyError, TypeError) as exc:
        return [f"does not parse: {str(exc)[:200]}"]
    problems = []
    roles = [m.role for m in parsed.messages]
    if not roles or roles[-1] != "assistant" or "user" not in roles:
        problems.append("must contain a user turn and end with the assistant")
    for message in parsed.messages:
        if message.role != "assistant":
            continue
        if layout == "funreason":
            match = _THINK.match(message.content or "")
            rest = (message.content or "")[match.end():] if match else ""
            if not match and "#" not in parsed.id:
                problems.append("assistant message without <think>")
            if rest.startswith("["):
                try:
                    parse_calls(rest)
                except Exception as exc:
                    problems.append(f"call list does not parse: {exc}")
        elif layout == "openai":
            for call in message.tool_calls or []:
                try:
                    json.loads(call["function"]["arguments"])
                except (KeyError, TypeError, ValueError):
                    problems.append("tool call arguments are not JSON")
    if layout == "openai":
        # A per-turn sample may end on the calls it trains: only earlier calls need answers.
        ids = {c["id"] for m in parsed.messages[:-1] for c in (m.tool_calls or [])}
        answered = {m.tool_call_id for m in parsed.messages if m.role == "tool"}
        if ids != answered:
            problems.append("tool calls and tool messages do not pair up")
    return problems


def _sharegpt_problems(row: Mapping[str, Any]) -> list[str]:
    problems = []
    conversations = row["conversations"]
    json.loads(row["tools"])
    previous = None
    for position, message in enumerate(conversations):
        role = message["from"]
        if position % 2 == 0 and role not in ("human", "observation"):
            problems.append(f"position {position}: {role} where human/observation belongs")
        if position % 2 == 1 and role not in ("gpt", "function_call"):
            problems.append(f"position {position}: {role} where gpt/function_call belongs")
        if role == "observation" and previous != "function_call":
            problems.append(f"position {position}: observation without a function call")
        if role == "function_call" and any(
            set(call) != {"name", "arguments"} for call in json.loads(message["value"])
        ):
            problems.append(f"position {position}: malformed function call")
        previous = role
    if conversations and conversations[-1]["from"] != "gpt":
        problems.append("does not end with gpt")
    return problems


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> int:
    """Write rows as JSONL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_jsonl(path, rows)


def write_openai_parquet(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """HF-datasets-ready Parquet: messages as a list of structs, tools as a JSON string."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    message_type = pa.struct(
        [
            ("role", pa.string()),
            ("content", pa.string()),
            ("reasoning_content", pa.string()),
            ("tool_calls", pa.list_(pa.struct([
                ("id", pa.string()), ("type", pa.string()),
                ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
            ]))),
            ("tool_call_id", pa.string()),
        ]
    )
    table = pa.table(
        {
            "id": [row["id"] for row in rows],
            "category": [row["category"] for row in rows],
            "messages": pa.array(
                [[{key: m.get(key) for key in message_type.names} for m in row["messages"]]
                 for row in rows],
                type=pa.list_(message_type),
            ),
            "tools": [json.dumps(row["tools"], ensure_ascii=False) for row in rows],
            "error_tool_response": [row["error_tool_response"] for row in rows],
        }
    )
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary, compression="zstd")


def read_openai_parquet(path: Path) -> list[dict[str, Any]]:
    """Rows of the Parquet export, in the JSONL shape (None fields dropped)."""
    import pyarrow.parquet as pq

    rows = []
    for row in pq.read_table(path).to_pylist():
        row["tools"] = json.loads(row["tools"])
        row["messages"] = [
            {key: value for key, value in message.items()
             if value is not None or key == "content"}
            for message in row["messages"]
        ]
        rows.append(row)
    return rows


def file_layout(name: str) -> str:
    """The layout of a written training file, from its name (`openai_per_turn.jsonl`)."""
    return name.split(".", 1)[0].removesuffix("_per_turn")


def judge_written(folder: Path, written: Mapping[str, int]) -> Verdict:
    """Read every written file back and validate each row against its layout.

    Args:
        folder: Where the files were written.
        written: File name -> rows written (JSONL files and the OpenAI Parquet file).
    """
    problems: Counter[str] = Counter()
    read_back = 0
    for name in written:
        layout, path = file_layout(name), folder / name
        if name.endswith(".parquet"):
            rows = read_openai_parquet(path)
        else:
            rows = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:  # a truncated or garbled line
                    problems[f"{name}: line is not JSON"] += 1
        for row in rows:
            read_back += 1
            for problem in row_problems(row, layout):
                problems[f"{name}: {problem}"] += 1
    return SFT_CHECK.verdict(
        not problems and read_back == sum(written.values()),
        rows_written=sum(written.values()),
        rows_read_back=read_back,
        problems=dict(problems.most_common(10)),
    )


def export_sft(
    dialogues: Sequence[VerifiedDialogue],
    registry: ToolRegistry,
    folder: Path,
    split_turns: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseResult[dict[str, Any]]:
    """Write every training layout of the curated dialogues under `folder`, and judge them.

    `progress(done, total)` is called after each dialogue's rows are built.
    """
    layouts: dict[str, list[dict[str, Any]]] = {"funreason": [], "openai": [], "sharegpt": []}
    for done, dialogue in enumerate(dialogues, 1):
        layouts["funreason"].append(funreason_row(dialogue, registry))
        layouts["openai"].append(openai_row(dialogue, registry))
        layouts["sharegpt"].append(sharegpt_row(dialogue, registry))
        if progress is not None:
            progress(done, len(dialogues))
    written: dict[str, int] = {}
    for layout, rows in layouts.items():
        written[f"{layout}.jsonl"] = write_rows(folder / f"{layout}.jsonl", rows)
        if split_turns and layout != "sharegpt":
            split = [s for row in rows for s in split_at_assistant_turns(row)]
            name = f"{layout}_per_turn.jsonl"
            written[name] = write_rows(folder / name, split)
    write_openai_parquet(folder / "openai.parquet", layouts["openai"])
    written["openai.parquet"] = len(layouts["openai"])
    return PhaseResult(
        value={"folder": str(folder), "files": written},
        verdicts=[judge_written(folder, written)],
        metrics={
            "files": written,
            "dagster/row_count": len(dialogues),
            "error_tool_response_dialogues": sum(
                1 for row in layouts["funreason"] if row["error_tool_response"]),
        },
    )
