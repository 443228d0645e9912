"""Bolt listeners, one module per kind, each exposing ``register(app, deps)``: ack, parse, call
a service, render with ``bot.views``. They never build adapters."""
