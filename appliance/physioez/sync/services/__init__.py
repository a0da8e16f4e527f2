"""Replication services: the publisher, what comes down from head office, the wire format and
the state compared with head office; plain Python, no Flask (an import-linter contract)."""
