"""Bolt listeners, one module per kind, each exposing ``register(app, deps)``: ack, parse, call
a service, render with ``bot.views``. They never build adapters."""

from __future__ import annotations

# Registration order matters only where patterns overlap: specific listeners come first.
LISTENER_MODULES: tuple[str, ...] = (
    "bot.listeners.assistant_threads",  # middleware: assistant threads before plain DMs
    "bot.listeners.actions",
    "bot.listeners.views",
    "bot.listeners.commands",
    "bot.listeners.mentions",
    "bot.listeners.home",
    "bot.listeners.messages",
)
