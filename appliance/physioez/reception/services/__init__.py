"""Front-desk services: plain Python over the core, no Flask (an import-linter contract)."""
