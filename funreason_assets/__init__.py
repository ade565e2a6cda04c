"""funreason_assets: verified multi-turn function-calling data by the FunReason-MT method."""

import os
import tempfile
from pathlib import Path

# Process-wide settings that must be in place before litellm, bfcl-eval or Great Expectations
# are imported anywhere in the package:
# - litellm otherwise fetches its model price map from the internet at import time;
# - bfcl-eval otherwise creates result/score folders inside site-packages on import;
# - Great Expectations otherwise sends usage analytics.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault(
    "BFCL_PROJECT_ROOT", str(Path(tempfile.gettempdir()) / "funreason_assets_bfcl")
)
