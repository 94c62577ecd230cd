# The two commands of the README: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: book-qa demo test setup chromium lint typecheck pytest benchmarks docs-screenshots constraints clean

demo: setup  ## The example project end to end on the local server: release, publish, simulated contractors, pull
	$(BIN)/labelbook server start
	$(BIN)/python examples/demo.py

book-qa: setup  ## The book-qa pipeline end to end (stages, stand-in model step, simulated workers, lineage, pay)
	$(BIN)/labelbook server start
	$(BIN)/python examples/book-qa/run.py

test: setup chromium lint typecheck pytest  ## Everything CI runs

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[server,jupyter,dev]"
	rm -f $(VENV)/.installed-* && touch $@

# Browser tests drive Debian's chromium (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (the browser tests need it)"; exit 2; fi; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

benchmarks: setup
	$(BIN)/python benchmarks/server_start.py
	$(BIN)/python benchmarks/search_latency.py
	$(BIN)/python benchmarks/similarity_index.py --data clustered
	$(BIN)/python benchmarks/load_test.py
	$(BIN)/python benchmarks/records_log.py
	$(BIN)/python benchmarks/build_speed.py
	$(BIN)/python benchmarks/diff_speed.py
	$(BIN)/python benchmarks/publish_throughput.py
	$(BIN)/python benchmarks/pull_speed.py
	$(BIN)/python benchmarks/pipeline_speed.py
	$(BIN)/python benchmarks/quality_agreement.py
	$(BIN)/python benchmarks/quality_dawid_skene.py
	$(BIN)/python benchmarks/quality_report.py
	$(BIN)/python benchmarks/widgets_speed.py

docs-screenshots: setup chromium  ## Retake the pictures in docs/img/ from the browser tests
	LABELBOOK_DOCS_SCREENSHOTS=1 $(BIN)/pytest tests/browser -m browser

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

constraints: setup  ## Re-pin every dependency after changing pyproject.toml
	(echo "# Pinned versions for reproducible installs (CPython 3.11, Linux). Regenerate: make constraints"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v "^labelbook") > constraints.txt
