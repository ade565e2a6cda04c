"""Load what the runs of the code location need before they need it.

A run's process loads the code location and the environment packs, and its steps import
libraries that take seconds to load: Great Expectations (the tabular checks), matplotlib (the
pictures), datasketch (curation's near-duplicate filter) and, when a role names a model,
litellm and the OpenAI SDK it calls OpenAI-compatible servers with. A Celery worker loads them
before its pool process forks (`funreason_assets.celery_worker`): the pool process inherits
them and every run starts warm, the first one included; otherwise every worker pays for them
on its first run, all at the same moment. `cli run` loads them in the command's own process
while its shard workers run, for the export run that follows them there.
"""

from __future__ import annotations

import dagster as dg


def preload(definitions: dg.Definitions | None = None) -> dg.Definitions:
    """Load the code location, the environment packs and the libraries runs import lazily.

    Args:
        definitions: The code location when already loaded (loaded here when None).

    Returns:
        The code location.

    Raises:
        SettingsError: The models config is invalid.
        PackConfigError: The pack config, or a pack class, is broken.
    """
    from funreason_assets.defs.environments.resources import EnvironmentPacksResource
    from funreason_assets.defs.models.resources import ModelsResource
    from funreason_assets.lib.expectations import load_great_expectations
    from funreason_assets.lib.figures import pyplot

    if definitions is None:
        from funreason_assets.definitions import defs

        definitions = defs()
    packs = definitions.resources.get("environment_packs")
    if isinstance(packs, EnvironmentPacksResource):
        packs.registry()
    models = definitions.resources.get("models")
    if isinstance(models, ModelsResource) and not models.settings().all_scripted:
        from funreason_assets.lib.llm.client import quiet_litellm

        quiet_litellm()
        # litellm's first call to an OpenAI-compatible server (openai/, hosted_vllm/, azure/ ...)
        # imports the OpenAI SDK's chat client: about 450 modules, seconds on a busy machine.
        import openai.resources.chat  # noqa: F401
    load_great_expectations()
    pyplot()
    import datasketch  # noqa: F401  (curation's near-duplicate filter imports it on first use)

    return definitions
