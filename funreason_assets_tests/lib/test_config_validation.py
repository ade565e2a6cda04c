"""Bad configs fail when they load, naming the file and the field, before any asset is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from funreason_assets.cli import main
from funreason_assets.lib.packs import PackConfigError
from funreason_assets.lib.paths import SettingsError, project_root
from funreason_assets.lib.registry import ToolRegistry
from funreason_assets.lib.settings import GenerationSettings, load_generation_settings

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken_packs"

# (setting path, value, the field the message must name)
BAD_GENERATION = [
    ("sampler.min_rounds", 6, "sampler.min_rounds"),
    ("sampler.min_calls", 7, "sampler.min_calls"),
    ("sampler.variants.missing_parameter", -0.5, "sampler.variants.missing_parameter"),
    ("sampler.variants", {"base": 0, "missing_parameter": 0, "missing_function": 0,
                          "long_context": 0}, "sampler.variants"),
    ("sampler.variants.error_recovery_rounds", 1.5, "sampler.variants.error_recovery_rounds"),
    ("reasoning.min_rounds", 6, "reasoning.min_rounds"),
    ("curation.min_turns", 13, "curation.min_turns"),
    ("involved_classes.min", 4, "involved_classes.min"),
    ("exports.keep_runs", 0, "exports.keep_runs"),
]


def _set(config: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[leaf] = value


def _generation_file(folder: Path, dotted: str, value: object) -> Path:
    config = yaml.safe_load((project_root() / "data/config/generation.yaml").read_text("utf-8"))
    _set(config, dotted, value)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "generation.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(("dotted", "value", "field"), BAD_GENERATION)
def test_bad_generation_config_names_file_and_field(tmp_path, dotted, value, field):
    path = _generation_file(tmp_path, dotted, value)
    with pytest.raises(SettingsError) as error:
        load_generation_settings(path)
    assert str(path) in str(error.value)
    assert f"field '{field}'" in str(error.value)


def test_the_shipped_and_default_configs_pass_the_cross_field_rules():
    load_generation_settings()
    GenerationSettings()


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ("no_packs.yaml", ["no_packs.yaml", "field 'packs'", "no environment pack"]),
        ("constructor_fails_pack.yaml", [
            "constructor_fails_pack.yaml", "field 'packs.0.classes.0.class'",
            "ConstructorFailsAPI()", "ConnectionError: shelf service unreachable"]),
        ("loader_fails_pack.yaml", [
            "loader_fails_pack.yaml", "field 'packs.0.classes.0.class'",
            "LoaderFailsAPI._load_scenario on a generated scenario", "KeyError: 'inventory'"]),
    ],
)
def test_broken_pack_fails_at_registry_load(config, fragments):
    with pytest.raises(PackConfigError) as error:
        ToolRegistry.from_config(BROKEN / config)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_a_pack_without_classes_is_rejected(tmp_path):
    path = tmp_path / "packs.yaml"
    path.write_text("packs:\n  - name: nothing\n", encoding="utf-8")
    with pytest.raises(PackConfigError) as error:
        ToolRegistry.from_config(path)
    assert "field 'packs.0'" in str(error.value) and "'nothing' names no classes" in str(
        error.value)


def _project(root: Path, generation: tuple[str, object] | None, packs: str | None) -> Path:
    """A project folder with the shipped configs, one shard of a few scenarios, one defect."""
    config = root / "data" / "config"
    shutil.copytree(project_root() / "data" / "config", config)
    small = yaml.safe_load((config / "generation.yaml").read_text("utf-8"))
    small.update(shards=1, scenarios_per_shard=5)
    if generation is not None:
        _set(small, *generation)
    (config / "generation.yaml").write_text(yaml.safe_dump(small), encoding="utf-8")
    if packs is not None:
        shutil.copy(BROKEN / packs, config / "environment_packs.yaml")
    (root / ".dagster_home").mkdir()
    return root


CLI_CASES = [
    (("sampler.min_rounds", 6), None, "generation.yaml", "field 'sampler.min_rounds'"),
    (("sampler.variants.missing_parameter", -0.5), None, "generation.yaml",
     "field 'sampler.variants.missing_parameter'"),
    (None, "no_packs.yaml", "environment_packs.yaml", "field 'packs'"),
    (None, "constructor_fails_pack.yaml", "environment_packs.yaml",
     "field 'packs.0.classes.0.class'"),
    (None, "loader_fails_pack.yaml", "environment_packs.yaml",
     "field 'packs.0.classes.0.class'"),
]


@pytest.mark.parametrize(("generation", "packs", "file", "field"), CLI_CASES)
def test_cli_run_stops_before_any_output_and_ends_with_the_cause(
    tmp_path, monkeypatch, capsys, generation, packs, file, field
):
    root = _project(tmp_path / "project", generation, packs)
    monkeypatch.setenv("FUNREASON_PROJECT_ROOT", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster_home"))
    assert main(["run"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert str(root / "data" / "config" / file) in last and field in last
    assert not (root / "data" / "outputs").exists()


@pytest.mark.slow
def test_the_real_cli_prints_the_cause_as_its_last_line(tmp_path):
    root = _project(tmp_path / "project", None, "constructor_fails_pack.yaml")
    env = {**os.environ, "FUNREASON_PROJECT_ROOT": str(root),
           "DAGSTER_HOME": str(root / ".dagster_home")}
    finished = subprocess.run(
        [sys.executable, "-m", "funreason_assets.cli", "run"], env=env, cwd=root,
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines()[-1] == (
        f"error: {root / 'data' / 'config' / 'environment_packs.yaml'}: field "
        "'packs.0.classes.0.class': ConstructorFailsAPI() raises ConnectionError: shelf "
        "service unreachable"
    )
    assert "Traceback" not in finished.stderr
    assert not (root / "data" / "outputs").exists()
