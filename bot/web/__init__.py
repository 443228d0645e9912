"""The FastAPI side service: Slack events in HTTP mode, OAuth (Slack install, GitHub account
linking), GitHub and drift webhooks, the reconciler, audit export, health, metrics."""
