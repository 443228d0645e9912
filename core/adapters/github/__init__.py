"""GitHub adapter: the thin REST client and ``GitHubCodeHost`` behind the ``CodeHost`` port.

``client.GitHubClient`` owns HTTP concerns (base URL for github.com or Enterprise Server, API
version headers, retries with jitter, rate-limit waits, ETag conditional GETs, call counters and
structured logging that never carries a token). ``auth`` and ``app_auth`` provide the token
(``GITHUB_TOKEN`` or GitHub App installation tokens); ``code_host.GitHubCodeHost`` maps the port's
idempotent operations onto REST calls; ``mapping`` and ``artifacts`` are its pure helpers;
``factory`` builds a client from settings. ``webhooks.parse_delivery`` turns one webhook delivery
(modelled in ``payloads``) into a port-level fact (``core.domain.facts``) without any I/O, so the
side service parses and the services only ever see facts. Importing this package builds nothing.
"""
