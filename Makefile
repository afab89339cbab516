.PHONY: setup demo test lint format bench

setup:
	scripts/setup --system

demo:
	scripts/demo

test:
	scripts/test

bench:
	scripts/bench

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .
