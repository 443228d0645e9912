"""The infra repo scaffold: what ``tfpilot scaffold infra-repo`` writes (``generator``: the
workflows, backends, helper and README from the templates in ``templates/``; ``envs``: the
environments from the projects map). Pure file generation, no I/O: the CLI writes the files,
the local forge seeds its repositories with them."""
