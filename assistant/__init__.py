"""Guided intake: the per-thread conversation state machine (``assistant.domain``: sessions,
flow, rule extractor) and model adapters (``assistant.adapters``: OpenAI). Submits through
``core.services``; never imports ``bot``. ``assistant.domain`` imports no I/O library."""
