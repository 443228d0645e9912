"""Top layer: Slack (Bolt listeners, Block Kit views), the FastAPI side service (``bot.web``),
the terminal console, settings, the one composition root (``bot.bootstrap``) and the
``tfpilot`` CLI (``bot.cli``). May import every layer below; nothing imports it."""
