"""The billing policy in force for the request being served, shared by the pages and the API."""

from __future__ import annotations

from flask import current_app

from physioez.billing.services.policy import BillingPolicy
from physioez.core.web.branch import current_settings


def policy() -> BillingPolicy:
    """The branch's billing policy, built once per settings (the money filter asks for it for
    every amount on a page)."""
    settings = current_settings()
    cached = current_app.extensions.get("physioez_billing_policy")
    if cached is None or cached[0] is not settings:
        cached = (settings, BillingPolicy.from_settings(settings))
        current_app.extensions["physioez_billing_policy"] = cached
    return cached[1]
