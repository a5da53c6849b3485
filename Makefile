# The two commands that matter: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install browser run fmt lint types arch pytest pytest-pg cov test bench clean

# Reinstall only when the project's dependencies changed.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The page tests drive Debian's Chromium. Installed when missing and possible (root, a
# reachable mirror); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      >/dev/null 2>&1 || echo "chromium could not be installed: browser tests will skip"; \
	  else echo "chromium missing (needs root to install): browser tests will skip"; fi; }

run: install
	$(BIN)/gateway serve --config config.toml

fmt: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

lint: install
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

types: install
	$(BIN)/mypy

arch: install
	$(BIN)/lint-imports

# Most tests wait on sockets and timers, so one worker per core roughly halves the run;
# pytest-cov gathers the workers' coverage into one .coverage for `make cov`.
WORKERS ?= auto
pytest: install browser
	$(BIN)/pytest -n $(WORKERS) --cov --cov-report=

# The same gateway on PostgreSQL: the integration tests that exercise every store (charger
# state, transactions, delivery, commands, tokens, local lists) run again with one
# database per test. `GATEWAY_TEST_POSTGRES=postgresql://user:pw@host:port` names a server
# of your own; otherwise tests/postgres.sh installs and starts Debian's where it can.
PG_TESTS := tests/integration/test_ocpp_transactions.py tests/integration/test_ocpi_delivery.py \
	tests/integration/test_remote_control.py tests/integration/test_session_lifecycle.py \
	tests/integration/test_tokens_api.py tests/integration/test_local_lists.py \
	tests/integration/test_thin_path.py
pytest-pg: install
	@url="$${GATEWAY_TEST_POSTGRES:-$$(bash tests/postgres.sh)}"; \
	if [ -z "$$url" ]; then echo "no PostgreSQL server could be had: the PostgreSQL pass skips"; \
	else GATEWAY_TEST_POSTGRES="$$url" $(BIN)/pytest -n $(WORKERS) $(PG_TESTS); fi

cov: install
	$(BIN)/coverage report
	$(BIN)/coverage report --fail-under=100 \
	    --include='gateway/domain/*,gateway/core/*,ocpp_central/translate/*,ocpi_bridge/translate/*'

test: lint types arch pytest cov pytest-pg

bench: install
	$(BIN)/python -m bench.ocpp_load

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage data
