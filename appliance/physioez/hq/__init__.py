"""Head office: ingest of every branch's batches into MySQL/MariaDB, the merge of shared
records and its conflicts, per-table digests, and what head office sends down.

Installed with the ``[hq]`` extra (PyMySQL) and run as ``physioez-hq``; the branch never
imports this package (an import-linter contract). Importing it adds the ``[hq]`` section to
the settings, so head office reads the same kind of config file as a branch.
"""

from __future__ import annotations

from physioez.core.kernel.settings import register_section
from physioez.hq.settings import HqSettings

register_section("hq", HqSettings)
