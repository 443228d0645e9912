"""Ports: ``typing.Protocol``s named by role (``ObjectStore``, ``RequestStore``, ``AuditLog``,
``ChatLog``, ``CodeHost``, ``Notifier``, ``Clock``) and the plain data they exchange. No I/O
library is imported here; adapters live in ``core.adapters``."""
