"""The terminal console: Block Kit rendered as text, a console notifier, and the chat/demo plumbing."""
