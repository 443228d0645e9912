"""Pure Block Kit builders (cards, thread replies, modals, App Home) that stay inside Slack's
limits. No I/O."""
