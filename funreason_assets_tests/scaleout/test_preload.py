"""What a parent loads before its worker processes fork: the runs' code, packs and libraries."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from funreason_assets.lib.paths import project_root

pytestmark = pytest.mark.slow  # a fresh interpreter importing every library: seconds

LIBRARIES = ("great_expectations", "matplotlib.pyplot", "datasketch", "litellm",
             "openai.resources.chat")

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from funreason_assets.defs.environments.resources import _registry
    from funreason_assets.preload import preload

    def loaded(definitions):
        return {
            "jobs": sorted(job.name for job in definitions.get_repository_def().get_all_jobs()),
            "registries": _registry.cache_info().currsize,
            "libraries": [name for name in json.loads(sys.argv[2]) if name in sys.modules],
        }

    offline = loaded(preload())
    os.environ["FUNREASON_PROJECT_ROOT"] = sys.argv[1]
    print(json.dumps({"offline": offline, "model": loaded(preload())}))
    """
)


def test_preload_loads_the_location_packs_and_libraries_and_litellm_only_for_models(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(project_root() / "data" / "config", project / "data" / "config")
    models = project / "data" / "config" / "models.yaml"
    config = yaml.safe_load(models.read_text(encoding="utf-8"))
    config["roles"]["replier"] = {"model": "openai/test-model", "api_base": "http://127.0.0.1:9"}
    models.write_text(yaml.safe_dump(config), encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(project), json.dumps(LIBRARIES)],
        capture_output=True, text=True,
        env={**os.environ, "FUNREASON_PROJECT_ROOT": str(project_root())}, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    offline, model = result["offline"], result["model"]
    assert {"generate_dataset", "export_dataset"} <= set(offline["jobs"])
    assert offline["registries"] == 1
    # The offline default never imports litellm, preloaded or not.
    assert offline["libraries"] == ["great_expectations", "matplotlib.pyplot", "datasketch"]
    # A role naming a model: litellm and the client it calls the server with, before any call.
    assert model["libraries"] == list(LIBRARIES)
    assert model["registries"] == 2  # the second project's pack config, resolved anew
