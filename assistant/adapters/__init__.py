"""Adapters for the assistant's ports (``OpenAIChatModel``). Built by the composition root."""
