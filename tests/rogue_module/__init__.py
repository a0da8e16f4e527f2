"""A module that breaks the isolation contract on purpose, for tests/test_modules.py: it reads
the front desk's services directly instead of asking the core's directory."""

from __future__ import annotations

from physioez.reception.services import patients  # the import the contract must catch

__all__ = ["patients"]
