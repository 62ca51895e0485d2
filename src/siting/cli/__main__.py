"""``python -m siting.cli``: the command line."""

from siting.cli.app import main

main()
