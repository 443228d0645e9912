"""TfPilot core: the request domain, its use cases and the ports they talk through.

Owns the request model, status derivation, permissions, ops metrics (``core.domain``), the use
cases (``core.services``), the port protocols (``core.ports``) and their adapters
(``core.adapters``: S3, local disk, GitHub, local git forge). ``core.domain``, ``core.services``
and ``core.ports`` import no I/O library; nothing in core imports ``assistant`` or ``bot``.
"""
