"""Pure domain: the one ``Request`` model, lifecycle derivation, status catalogue, roles and
permissions, index rows, ops metrics and credential redaction. Imports no I/O library and no
other layer except ``module_registry`` types."""
