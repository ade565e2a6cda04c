"""Exports: BFCL evaluation files and training formats, each parsed back after writing.

BFCL format (what bfcl-eval reads): one JSON object per line with `id`, `question` (a list of
turns, each a list of messages), `initial_config`, `involved_classes`, `path` and, for the
missing-function category, `missed_function` ({turn index: [functions added at that turn]});
a possible-answer file per category with `ground_truth`: per turn, a list of call strings.

Training formats:
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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from funreason_assets.lib.curation import dialogue_category
from funreason_assets.lib.environments import ToolRegistry
from funreason_assets.lib.executor import parse_calls
from funreason_assets.lib.records import ReasonedTurn, VerifiedDialogue

SYSTEM_PROMPT = (
    "You are an assistant that completes the user's requests by calling functions. Think "
    "step by step inside <think></think>, then either call functions as a Python-style list "
    "like [func(a=1), other(b='x')] or answer the user. If a required value is missing, ask "
    "for it; if no function can do what is asked, say so."
)
_THINK = re.compile(r"^<think>(.*?)</think>\n?", re.DOTALL)


# ---------------------------------------------------------------------- BFCL


def _bfcl_turns(dialogue: VerifiedDialogue) -> tuple[list[list[dict[str, str]]], list[list[str]],
                                                     dict[str, list[str]]]:
    questions: list[list[dict[str, str]]] = []
    answers: list[list[str]] = []
    missed: dict[str, list[str]] = {}
    hidden_next: list[str] = []
    for turn in dialogue.turns:
        if hidden_next and turn.mode == "act":
            # BFCL adds a withheld function back at a turn with no new user message.
            missed[str(len(questions))] = hidden_next
            questions.append([])
            hidden_next = []
        else:
            questions.append([{"role": "user", "content": turn.user}])
        answers.append(list(turn.ground_truth))
        if turn.mode == "decline":
            hidden_next = list(turn.tools_hidden)
    return questions, answers, missed


def bfcl_entries(
    dialogues: Sequence[VerifiedDialogue], registry: ToolRegistry
) -> tuple[dict[str, list[tuple[dict[str, Any], dict[str, Any]]]], dict[str, str], list[str]]:
    """Question and answer entries per BFCL category, the id map, and skipped dialogue ids.

    A missing-function dialogue whose withheld function was already used before it is
    withheld cannot be expressed in BFCL's format (a function is missing from the start until
    it is added) and is skipped.
    """
    per_category: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    id_map: dict[str, str] = {}
    skipped: list[str] = []
    for dialogue in dialogues:
        category = dialogue_category(dialogue)
        questions, answers, missed = _bfcl_turns(dialogue)
        if missed:
            added_at = min(int(index) for index in missed)
            withheld = {name for names in missed.values() for name in names}
            used_before = {
                call.split("(", 1)[0] for calls in answers[:added_at] for call in calls
            }
            if withheld & used_before:
                skipped.append(dialogue.dialogue_id)
                continue
        entries = per_category.setdefault(category, [])
        entry_id = f"{category}_{len(entries)}"
        id_map[dialogue.dialogue_id] = entry_id
        path = []
        for calls in answers:
            for call in calls:
                name = call.split("(", 1)[0]
                owner = registry.owner(name) or "?"
                if f"{owner}.{name}" not in path:
                    path.append(f"{owner}.{name}")
        question: dict[str, Any] = {
            "id": entry_id,
            "question": questions,
            "initial_config": dialogue.initial_config,
            "involved_classes": list(dialogue.involved_classes),
            "path": path,
        }
        if missed:
            question["missed_function"] = missed
        entries.append((question, {"id": entry_id, "ground_truth": answers}))
    return per_category, id_map, skipped


def bfcl_file_name(category: str) -> str:
    """The file name bfcl-eval uses for a category."""
    return f"BFCL_v4_{category}.json"


def write_bfcl(
    folder: Path, per_category: Mapping[str, Sequence[tuple[dict[str, Any], dict[str, Any]]]]
) -> dict[str, str]:
    """Write question and possible-answer files; returns file paths per category."""
    (folder / "possible_answer").mkdir(parents=True, exist_ok=True)
    written = {}
    for category, pairs in sorted(per_category.items()):
        name = bfcl_file_name(category)
        _write_jsonl(folder / name, (question for question, _ in pairs))
        _write_jsonl(folder / "possible_answer" / name, (answer for _, answer in pairs))
        written[category] = str(folder / name)
    return written


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every row of a JSONL file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ---------------------------------------------------------------------- training formats


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


# ---------------------------------------------------------------------- parse back


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
    if roles[-1] != "assistant" or "user" not in roles:
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
    return _write_jsonl(path, rows)


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
    pq.write_table(table, path, compression="zstd")


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
