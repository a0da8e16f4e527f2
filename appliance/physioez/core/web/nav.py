"""Navigation that each module contributes and each person sees filtered by permission."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from physioez.core.kernel.permissions import require_known


@dataclass(frozen=True)
class NavItem:
    section: str
    label: str
    endpoint: str
    permission: str
    shortcut: str = ""

    def __post_init__(self) -> None:
        require_known(self.permission)


def register_nav(app: Flask, *items: NavItem) -> None:
    app.extensions.setdefault("physioez_nav", []).extend(items)


def visible_nav(app: Flask, permissions: frozenset[str]) -> list[NavItem]:
    return [
        item for item in app.extensions.get("physioez_nav", []) if item.permission in permissions
    ]
