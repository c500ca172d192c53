# 说事 shuoshi — `make run` starts the bot on the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GATEWAY := deploy/wechaty-gateway

.PHONY: run shell test lint types pytest deps test-deps gateway-deps browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

deps: $(STAMP)

run: deps
	@echo "另开一个终端，在这里运行 make shell，就可以直接用 shuoshi 命令（如 shuoshi set-password 李书记）"
	$(BIN)/shuoshi run

# A shell with .venv/bin first on PATH: `shuoshi …` as the README and the messages write it.
shell:
	@test -x $(BIN)/shuoshi || { echo "还没有安装：先运行 make run（或 make deps）"; exit 2; }
	@echo "已进入说事的环境：可以直接运行 shuoshi …（shuoshi --help 看全部命令），exit 退出。"
	@PATH="$(CURDIR)/$(BIN):$$PATH" VIRTUAL_ENV="$(CURDIR)/$(VENV)" $${SHELL:-/bin/sh} -i

# Node packages for the WeChat gateway tests (Node 20 is on the machines).
gateway-deps:
	@if [ -f $(GATEWAY)/package-lock.json ] && command -v npm >/dev/null; then \
		test -d $(GATEWAY)/node_modules || (cd $(GATEWAY) && npm ci --no-audit --no-fund --loglevel=error); \
	fi

# Debian's Chromium for the admin's browser tests, and a small CJK font so that pages and charts show
# Chinese rather than boxes (the container image installs fonts-noto-cjk instead). Installed when missing under CI (as root).
browser:
	@if [ "$$CI" = "true" ] && { ! command -v chromium >/dev/null || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; }; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
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
