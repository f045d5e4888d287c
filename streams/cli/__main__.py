"""``python -m streams.cli``: the ``streammon`` command."""

from streams.cli.main import main

main()
