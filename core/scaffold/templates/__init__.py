"""Templates of the infra repo that ``tfpilot scaffold infra-repo`` writes (data only, no code).

``core.scaffold.generator`` fills the ``@@NAME@@`` placeholders; ``*.tmpl`` keeps linters and
GitHub from mistaking a template for a live file.
"""
