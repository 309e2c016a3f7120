# The two commands a new user needs are `make run` and `make test`; both build .venv first.
# `make check` is the quick one to run while working: lint and the tests not marked slow.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check browser demo lint bench clean

# The suite runs on every core (pytest-xdist); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto

# Rebuilt when missing, when pyproject.toml changed, or when the interpreter it points at is gone.
$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c '' 2>/dev/null; then \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/distro serve --with-samples

# Lint first: it takes seconds and fails fastest.
test: lint browser
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# Browser, real-process, PostgreSQL and benchmark-like tests are marked slow (tests/slow_marks.py).
check: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow"

# The browser tests drive Debian's chromium (or DISTRO_TEST_CHROMIUM). As root, install it when
# missing (apt-get update first only if the install fails without it); elsewhere say so once:
# those tests then skip, saying why.
CHROMIUM := $(or $(DISTRO_TEST_CHROMIUM),/usr/bin/chromium)
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium for the browser tests (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } \
		|| echo "Could not install chromium with apt-get: the browser tests will skip"; \
	else \
		echo "No $(CHROMIUM) (install Debian's chromium as root): the browser tests will skip"; \
	fi

demo: $(STAMP)
	$(BIN)/distro demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
