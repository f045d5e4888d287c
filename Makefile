# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test setup broker check

setup:
	@scripts/bootstrap

broker: setup
	@.venv/bin/streammon broker start

demo: setup
	.venv/bin/streammon demo

test: broker
	.venv/bin/python -m pytest

# Lint and format (ruff) over the tree, strict types (mypy) on monitors/: run by .ci/run before the tests.
check: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
