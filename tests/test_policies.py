"""Chain policies: head office's rules in place of the branch's own settings."""

from __future__ import annotations

import logging

import pytest

from physioez.core.kernel import policies
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.models import AuditEvent
from physioez.sync.services import downstream

HQ_STAMP = "999999999999990-0000-HQ"
AT = "2026-11-24T09:00:00.000000Z"


def arrive(name: str, value, *, seq: int, stamp: str = HQ_STAMP, cleared: bool = False) -> None:
    """Head office's policy row, applied as replication applies it."""
    row = policies.policy_row(name, value, stamp, AT, cleared=cleared)
    downstream.apply_down(
        [
            {
                "seq": seq,
                "table": "chain_policy",
                "key": row["id"],
                "op": "delete" if cleared else "update",
                "hlc": stamp,
                "row": row,
            }
        ],
        seq,
    )


def test_a_policy_is_checked_by_the_rules_of_its_setting(settings):
    assert policies.check("billing.discount_limit_percent", {"receptionist": "5"}, settings) == {
        "receptionist": 5
    }
    with pytest.raises(policies.PolicyError, match="0-100 percent"):
        policies.check("billing.discount_limit_percent", {"receptionist": 150}, settings)
    with pytest.raises(policies.PolicyError, match="not a chain policy"):
        policies.check("paths.data_dir", "/tmp", settings)


def test_head_offices_policy_takes_the_place_of_the_file_and_clearing_gives_it_back(app):
    from physioez.billing.views import policy

    desk = Actor("desk-1", ("receptionist",))
    file_limit = app.config["PHYSIOEZ"].billing.discount_limit_percent["receptionist"]
    arrive("billing.discount_limit_percent", {"receptionist": 5, "owner": 100}, seq=1)
    assert app.config["PHYSIOEZ"].billing.discount_limit_percent == {
        "receptionist": 5,
        "owner": 100,
    }
    with app.app_context():
        assert policy().discount_limit_percent(desk) == 5
    assert AuditEvent.select().where(AuditEvent.action == "chain_policy.replicated").count() == 1

    later = HQ_STAMP.replace("90-0000", "95-0000")
    arrive("billing.discount_limit_percent", None, seq=2, stamp=later, cleared=True)
    with app.app_context():
        assert policy().discount_limit_percent(desk) == file_limit
    assert policies.held() == {}


def test_a_policy_this_branch_cannot_use_is_logged_and_ignored(app, caplog):
    arrive("reception.late_cancel_hours", 500, seq=1)  # over the setting's limit of 168
    caplog.set_level(logging.ERROR)
    file_hours = app.config["PHYSIOEZ"].reception.late_cancel_hours
    assert policies.apply(app.config["PHYSIOEZ"]).reception.late_cancel_hours == file_hours
    assert "not applied here" in caplog.text


def test_the_replication_page_lists_the_policies_in_force(app, client_for):
    arrive("reception.auto_no_show", True, seq=1)
    page = client_for("it_admin").get("/system/replication").text
    assert 'data-testid="sync-policies"' in page and "reception.auto_no_show" in page
    assert app.config["PHYSIOEZ"].reception.auto_no_show is True
