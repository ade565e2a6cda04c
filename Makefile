# Two commands do all set-up on a fresh machine (Python 3.11 + pip):
#   make run    materialize the whole pipeline on the offline default and write the outputs
#   make test   run the test suite
# and `make ui` opens the Dagster UI on http://127.0.0.1:3000.

UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export LITELLM_LOCAL_MODEL_COST_MAP := True
export GX_ANALYTICS_ENABLED := false

.PHONY: setup browser services run test ui bench lint

# Bytecode is compiled once here (uv does not by default; pip does): every process the pipeline
# starts (shard workers, run workers, the daemon, bfcl-eval's checker) would otherwise compile
# its libraries again, seconds each where Python may not write bytecode caches.
setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --compile-bytecode

run: setup
	$(UV) run python -m funreason_assets.cli run

# Headless Chromium for the UI and report tests (Debian's package; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Redis and Postgres for the Celery pool test (Debian's packages; needs root or sudo). Only
# their binaries are used: the test starts its own servers on free ports.
services:
	@{ command -v redis-server && ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq \
		&& $$SUDO apt-get install -y -qq redis-server postgresql >/dev/null; }

test: setup browser services
	FUNREASON_ARTIFACTS=$(CURDIR)/test-artifacts $(UV) run pytest -q -n 2 -m "slow or not slow"

ui: setup
	$(UV) run dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: setup
	$(UV) run python benchmarks/run_all.py

lint: setup
	$(UV) run ruff check funreason_assets funreason_assets_tests benchmarks
