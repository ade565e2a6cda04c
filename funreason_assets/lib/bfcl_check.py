"""Replay BFCL items through bfcl-eval's own `multi_turn_checker` (once per run, in curation).

Each entry's ground truth is given as the model's answer, so a well-formed entry passes.
This runs in a child process (`python -m funreason_assets.lib.bfcl_check <folder> <out.json>`):
bfcl-eval's executor evaluates call strings with `eval` and keeps instances in module globals,
neither of which belongs in the pipeline's own process. The strings it evaluates here are our
own ground truth, written by `format_call` from executed calls, never model output.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import pickle
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import funreason_assets  # noqa: F401  (sets bfcl-eval's project root before bfcl-eval loads)


class _ModuleState:
    """Module-level data of bfcl-eval's environment modules, restorable before each item.

    Some classes load module-level objects by reference (the long-context extensions) and
    mutate them, so without a reset one item's calls change what the next item starts from,
    and a verdict depends on which items ran before it. Each item is checked from the state
    the modules had at import.
    """

    def __init__(self) -> None:
        package = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.func_source_code")
        # (module, name, saved copy, its pickle or None when it cannot be pickled)
        self.saved: list[tuple[Any, str, Any, bytes | None]] = []
        for info in pkgutil.iter_modules(package.__path__):
            try:
                module = importlib.import_module(f"{package.__name__}.{info.name}")
            except ImportError:
                continue  # the memory backends need packages the multi-turn classes do not
            for name, value in vars(module).items():
                if not name.startswith("__") and isinstance(value, dict | list | set):
                    saved = copy.deepcopy(value)
                    self.saved.append((module, name, saved, _pickled(saved)))

    def restore(self) -> None:
        """Put back a fresh copy of every saved value that an item changed.

        A value whose pickle equals the saved one's (same types, order and inner sharing) is
        the import-time value still, and is left in place: copying every value before every
        item took most of the replay's time, though few items touch them.
        """
        for module, name, value, pickled in self.saved:
            current = getattr(module, name, None)
            if pickled is None or current is None or _pickled(current) != pickled:
                setattr(module, name, copy.deepcopy(value))


def _pickled(value: Any) -> bytes | None:
    """The value's pickle, or None when some part of it cannot be pickled."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a function or handle inside: always restored
        return None


def check_folder(folder: Path) -> dict[str, Any]:
    """Run the checker over every category file in a BFCL export folder."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    modules = _ModuleState()

    summary: dict[str, Any] = {}
    for question_file in sorted(folder.glob("BFCL_v4_multi_turn_*.json")):
        answer_file = folder / "possible_answer" / question_file.name
        questions = [json.loads(x) for x in question_file.read_text("utf-8").splitlines() if x]
        answers = {
            row["id"]: row["ground_truth"]
            for row in (json.loads(x) for x in answer_file.read_text("utf-8").splitlines() if x)
        }
        category = question_file.stem.removeprefix("BFCL_v4_")
        passed, failures = 0, []
        for entry in questions:
            truth = answers[entry["id"]]
            model_answer = [[turn] if turn else [] for turn in truth]
            modules.restore()
            try:
                verdict = multi_turn_checker(
                    model_answer, truth, entry, category, "funreason_export_check"
                )
            except Exception as exc:  # a crash is a failed item, reported with its id
                verdict = {"valid": False, "error_message": f"{type(exc).__name__}: {exc}"}
            if verdict.get("valid"):
                passed += 1
            else:
                failures.append({"id": entry["id"], "error": str(verdict.get("error_message"))})
        # Every failure is listed: curation drops exactly the entries named here.
        summary[category] = {"entries": len(questions), "passed": passed, "failures": failures}
    return summary


def run_checker(folder: Path, timeout: float = 1800) -> dict[str, Any]:
    """Run `check_folder` in a child process and return its summary."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "summary.json"
        env = {**os.environ, "BFCL_PROJECT_ROOT": scratch}
        finished = subprocess.run(
            [sys.executable, "-m", "funreason_assets.lib.bfcl_check", str(folder.resolve()),
             str(out)],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=scratch, check=False,
        )
        if finished.returncode != 0 or not out.exists():
            raise RuntimeError(f"BFCL checker failed: {finished.stderr[-2000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    """Entry point of the child process."""
    folder, out = Path(argv[0]), Path(argv[1])
    summary = check_folder(folder)
    out.write_text(json.dumps(summary), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
