"""What every module shares, in three layers: ``kernel`` (data, audit, identity, registries),
``platform`` (shared infrastructure) and ``web`` (everything Flask)."""
