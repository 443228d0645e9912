"""Adapters implementing core ports: ``S3*`` and ``Local*`` stores, ``GitHubCodeHost`` and
``LocalCodeHost``. Named ``<Tech><Role>``. Built only by the composition root
(``bot.bootstrap``) and by tests; never imported by the domain or the services."""
