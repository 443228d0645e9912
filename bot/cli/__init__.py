"""The ``tfpilot`` command line: one module per command group, wired in ``bot.cli.main``."""
