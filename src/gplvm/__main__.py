"""``python -m gplvm`` is the same as the ``gplvm`` command."""

from gplvm.cli.main import entry

entry()
