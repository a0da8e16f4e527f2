"""The kernel: the database and its one write path, records, audit, outbox, ids, clock, node,
errors, events, the registries, settings and sign-in. It imports neither the platform nor the
web layer (an import-linter contract)."""
