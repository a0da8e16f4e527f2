"""A module that exists only for tests/test_modules.py: declared once, like any module."""

from __future__ import annotations

from pydantic import Field

from physioez.core.kernel.db import Migration
from physioez.core.kernel.modules import Module
from physioez.core.kernel.permissions import Permission
from physioez.core.kernel.settings import Section


class ThrowawaySettings(Section):
    greeting: str = Field("Hello", max_length=40, description="What the page says.")


MODULE = Module(
    name="throwaway",
    description="A module made for a test",
    permissions=(Permission("throwaway.notes.read", "Read throwaway notes", ("therapist",)),),
    settings=ThrowawaySettings,
    policies={"greeting": "What every branch's page says"},
    migrations=(
        Migration(
            "throwaway.0001_notes",
            "CREATE TABLE throwaway_note (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        ),
    ),
    web="tests.throwaway.web:WEB",
    jobs="tests.throwaway.web:jobs",
    cli="tests.throwaway.web:command",
)
