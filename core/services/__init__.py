"""Use cases as small service classes over ports (create, update, approve, merge, apply,
destroy, re-plan, sync, queries, drift, metrics). They import no I/O library: every effect
goes through a port, so tests build them with in-memory fakes."""
