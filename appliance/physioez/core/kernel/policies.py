"""Chain policies: the rules head office sets for every branch at once.

A few settings are the chain's business rather than one branch's: how large a discount each
role may give, when a cancellation counts as late, whether no-shows are marked at day end,
which documents every patient needs. Head office sets them (``physioez-hq set-policy``) as
rows of ``chain_policy``, a table it owns; they come down with its other changes and, on the
branch, take the place of the same settings in the branch's file. Clearing one at head office
(a tombstone) gives the branch back its own setting.

A policy is checked by the same rules as the setting it replaces, at head office before it is
sent and again on the branch; a row the branch cannot use (an older appliance that does not
know the name, say) is logged and ignored, never half-applied. No Flask here: the web layer
swaps the app's settings on :class:`~physioez.core.kernel.events.PoliciesChanged`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from physioez.core.kernel.db import database
from physioez.core.kernel.events import PoliciesChanged, bus
from physioez.core.kernel.settings import Settings

log = logging.getLogger(__name__)

# "<section>.<setting>" of the settings head office may set for the whole chain, with a
# description; filled by the modules' declarations (Module(policies=...)).
CHAIN_POLICIES: dict[str, str] = {}


def register(name: str, description: str) -> None:
    CHAIN_POLICIES[name] = description


def unregister(name: str) -> None:
    CHAIN_POLICIES.pop(name, None)


class PolicyError(ValueError):
    """A policy head office cannot send: unknown, or not a valid value for its setting."""


def policy_key(name: str) -> str:
    """The record id of a policy: one per name on every branch, whoever set it."""
    return f"policy:{name}"


def require_known(name: str) -> None:
    if name not in CHAIN_POLICIES:
        raise PolicyError(f"{name!r} is not a chain policy (one of: {', '.join(CHAIN_POLICIES)})")


def check(name: str, value: Any, settings: Settings) -> Any:
    """``value`` as the setting ``name`` takes it, or :class:`PolicyError` saying why not."""
    require_known(name)
    section_name, field = name.split(".", 1)
    section = getattr(settings, section_name)
    try:
        checked = type(section).model_validate({**section.model_dump(), field: value})
    except ValidationError as exc:
        problems = "; ".join(error["msg"] for error in exc.errors())
        raise PolicyError(f"{name}: {problems}") from None
    return getattr(checked, field)


def policy_row(name: str, value: Any, hlc: str, at: str, *, cleared: bool = False) -> dict:
    """The ``chain_policy`` record head office sends for ``name`` (``at``: UTC, as stored)."""
    return {
        "id": policy_key(name),
        "origin_branch": "HQ",
        "hlc": hlc,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "deleted_at": at if cleared else None,
        "name": name,
        "value": json.dumps(value, sort_keys=True),
    }


def held() -> dict[str, Any]:
    """The policies this branch has from head office, by name (cleared ones excluded)."""
    rows = database.execute_sql(
        "SELECT name, value FROM chain_policy WHERE deleted_at IS NULL ORDER BY name"
    ).fetchall()
    return {name: json.loads(value) for name, value in rows}


def apply(settings: Settings) -> Settings:
    """``settings`` with head office's policies in place of the branch's own values."""
    by_section: dict[str, dict[str, Any]] = {}
    for name, value in held().items():
        try:
            checked = check(name, value, settings)
        except PolicyError as exc:
            log.error("head office's policy is not applied here: %s", exc)
            continue
        section_name, field = name.split(".", 1)
        by_section.setdefault(section_name, {})[field] = checked
    if not by_section:
        return settings
    return settings.model_copy(
        update={
            section_name: getattr(settings, section_name).model_copy(update=fields)
            for section_name, fields in by_section.items()
        }
    )


def changed(branch: str) -> None:
    """Policies were written: announce it (after the commit, inside a transaction)."""
    bus.publish(PoliciesChanged(branch=branch, audience_roles=("owner", "it_admin")))
