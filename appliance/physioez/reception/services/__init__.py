"""Front-desk services: plain Python over the core, no Flask (an import-linter contract)."""


def start() -> None:
    """Run once when the app is created: reactions to events, and the directory lookups
    through which other modules see patients and practitioners."""
    from physioez.reception.services import directory, reactions

    reactions.subscribe()
    directory.provide_directory()
