"""Accounts-desk services: plain Python over the core, no Flask (an import-linter contract)."""


def start() -> None:
    """Run once when the app is created: an attended session uses a prepaid pack."""
    from physioez.billing.services import visits

    visits.subscribe()
