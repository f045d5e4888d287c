# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test setup broker

setup:
	@scripts/bootstrap

broker: setup
	@.venv/bin/streammon broker start

demo: setup
	.venv/bin/streammon demo

test: broker
	.venv/bin/python -m pytest
