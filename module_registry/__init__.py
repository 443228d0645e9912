"""Module registry: module definitions (JSON Schema + template data), validation, safe
deterministic Terraform rendering, naming and tag policy, the projects/environments map and the
variables.tf importer. Lowest layer: imports nothing from core, assistant or bot and no I/O
library (it reads its own data files with the standard library)."""
