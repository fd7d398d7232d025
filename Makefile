# ocdn: the two commands that do all the set-up on a fresh machine are
#   make demo   - the CDN on loopback (embedded origin, edge), ready for curl
#   make test   - lint, type checks and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test deps lint typecheck unit unit-interpreted build clean-build bench-edge \
	bench-policy bench-steering bench-encode clean

# The hot path mypyc compiles (common/build.py, setup.py), built in place beside its sources.
HOT_SRC := $(shell $(PYTHON) -c "import runpy; print(' '.join(m.replace('.', '/') + '.py' \
	for m in runpy.run_path('common/build.py')['HOT_PATH']))")
BUILT  := $(VENV)/.compiled

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=77'
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compiled extensions beside the sources; rebuilt whenever one of them changes (the edge
# and the tests refuse to run extensions built from other sources: common/build.py).
$(BUILT): $(STAMP) setup.py common/build.py $(HOT_SRC)
	PYTHON=$(BIN)/python scripts/debian-deps.sh build
	OCDN_COMPILE=1 $(BIN)/python setup.py --quiet build_ext --inplace
	touch $(BUILT)

build: $(BUILT)

# Back to interpreted: remove the in-place extensions (build/ keeps mypyc's C for the next build).
clean-build:
	rm -f $(BUILT) common/hotpath.json
	find common edge -name '*.so' -delete

demo: build
	$(BIN)/ocdn demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

deps:
	scripts/debian-deps.sh test

# The whole suite against the compiled hot path (what `pip install .` deploys), then the
# hot path's own tests interpreted (what runs where nothing can be compiled). Sub-makes:
# each pass changes which files exist.
unit: $(STAMP) deps
	$(MAKE) --no-print-directory build
	OCDN_EXPECT_COMPILED=1 $(BIN)/pytest -q

unit-interpreted: $(STAMP) deps
	$(MAKE) --no-print-directory clean-build
	OCDN_EXPECT_COMPILED=0 $(BIN)/pytest -q tests/common tests/edge
	$(MAKE) --no-print-directory build

test: lint typecheck unit unit-interpreted

# Benchmarks install their Debian tools (nginx, wrk) when missing; see README.
bench-edge: build
	scripts/debian-deps.sh bench
	$(BIN)/python -m bench.edge_vs_nginx

bench-policy: build
	$(BIN)/python -m bench.policy_report

bench-steering: $(STAMP)
	scripts/debian-deps.sh bench
	$(BIN)/python -m bench.steering_bench

bench-encode: $(STAMP)
	$(BIN)/python -m bench.encode_bench

clean: clean-build
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache
