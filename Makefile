# 说事 shuoshi — `make run` starts the bot on the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GATEWAY := deploy/wechaty-gateway

.PHONY: run test lint types pytest deps test-deps gateway-deps browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

deps: $(STAMP)

run: deps
	$(BIN)/shuoshi run

# Node packages for the WeChat gateway tests (Node 20 is on the machines).
gateway-deps:
	@if [ -f $(GATEWAY)/package-lock.json ] && command -v npm >/dev/null; then \
		test -d $(GATEWAY)/node_modules || (cd $(GATEWAY) && npm ci --no-audit --no-fund --loglevel=error); \
	fi

# Debian's Chromium for the browser tests: installed when missing under CI (as root).
browser:
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test-deps: deps gateway-deps browser

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: deps
	$(BIN)/mypy

pytest: test-deps
	$(BIN)/pytest -q

test: lint types pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
