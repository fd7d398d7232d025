# ocdn: the two commands that do all the set-up on a fresh machine are
#   make demo   - the CDN on loopback (embedded origin, edge), ready for curl
#   make test   - lint, type checks and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test deps lint typecheck unit bench-edge bench-policy bench-steering bench-encode clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ocdn demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

deps:
	scripts/debian-deps.sh test

unit: $(STAMP) deps
	$(BIN)/pytest -q

test: lint typecheck unit

# Benchmarks install their Debian tools (nginx, wrk) when missing; see README.
bench-edge: $(STAMP)
	scripts/debian-deps.sh bench
	$(BIN)/python -m bench.edge_vs_nginx

bench-policy: $(STAMP)
	$(BIN)/python -m bench.policy_report

bench-steering: $(STAMP)
	scripts/debian-deps.sh bench
	$(BIN)/python -m bench.steering_bench

bench-encode: $(STAMP)
	$(BIN)/python -m bench.encode_bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
