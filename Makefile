VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml sdk/pyproject.toml scripts/install.sh package-lock.json
	bash scripts/install.sh
	touch $(STAMP)

run: install
	$(BIN)/cluster serve

test: install lint
	bash scripts/services.sh
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check src sdk tests bench
	$(BIN)/ruff format --check src sdk tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: install
	bash bench/setup_litellm.sh
	bash scripts/services.sh
	$(BIN)/python bench/gateway_overhead.py --secured
	$(BIN)/python bench/local_models.py
	$(BIN)/python bench/chain.py
	$(BIN)/python bench/x402_overhead.py
	$(BIN)/python bench/datasets.py
	$(BIN)/python bench/finetune.py
	$(BIN)/python bench/tee.py

clean:
	rm -rf $(VENV) .cluster .pytest_cache .mypy_cache .ruff_cache
