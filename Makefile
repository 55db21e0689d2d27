# The README's two commands: `make demo` and `make test`. Both bootstrap what they need.
SHELL := /bin/bash
BIN := .venv/bin

NAME ?= Sofía
AGE ?= 6
MESSAGE ?= Gracias por ayudar tanto en casa este año
LANGUAGE ?= es

.PHONY: demo test lint typecheck pytest assets worker serve bootstrap bootstrap-test format clean

demo: bootstrap assets
	@LOG_FORMAT=$${LOG_FORMAT:-text} $(BIN)/python cli.py demo --name "$(NAME)" --age "$(AGE)" --message "$(MESSAGE)" --language "$(LANGUAGE)"

# Every gate: lint, types, tests.
test: bootstrap-test lint typecheck pytest

lint: bootstrap-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: bootstrap-test
	$(BIN)/mypy

# pytest exits 5 when it collects nothing: say so loudly rather than pass silently.
# Four pytest-xdist processes on two cores: most tests wait on real workers, FFmpeg and servers.
PYTEST_WORKERS ?= 4
pytest: bootstrap-test
	@$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

assets: bootstrap
	@$(BIN)/python cli.py assets

worker: bootstrap assets
	$(BIN)/python worker.py

# The web side on PORT (default 8000). Without REDIS_URL it also runs the embedded Redis and one
# worker in the same process, and prints a generated admin token for /admin.
serve: bootstrap assets
	$(BIN)/python -m web

format: bootstrap-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bootstrap:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test

clean:
	rm -rf output tmp .pytest_cache .mypy_cache .ruff_cache

# The whole stack under Docker (Dockerfile, docker-compose.yml): an order over HTTP, the video
# checked by ffprobe, Redis and a worker restarted, nothing lost. Installs Debian's docker.io /
# docker-compose when missing and builds a local base image when no registry answers (docs/DEPLOYMENT.md).
.PHONY: compose-test
compose-test: bootstrap
	@scripts/compose-test.sh
