"""Who a patient or practitioner is, for modules that do not own them.

Reception owns patients and practitioners; billing prints their names on invoices and clinical
heads its notes with them. Modules never import each other, so the owner registers a lookup
here at start-up and the others ask the core. Reads only: a change to a patient still goes
through the owning module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PatientCard:
    """What another module may show about a patient."""

    id: str
    name: str
    mrn: str
    phone: str = ""
    alerts: tuple[str, ...] = field(default_factory=tuple)
    # A merged duplicate answers with the record it was merged into.
    merged_into: str | None = None


@dataclass(frozen=True)
class PractitionerCard:
    id: str
    name: str
    staff_id: str


@dataclass(frozen=True)
class PatientFact:
    """A line another module adds wherever the patient is shown ("Owes ₹1,200.00")."""

    label: str
    value: str
    href: str = ""
    warn: bool = False


# Given the patient and what the viewer may see, the facts a module adds about that patient.
PatientFacts = Callable[[str, frozenset[str]], list[PatientFact]]

PatientLookup = Callable[[Sequence[str]], dict[str, PatientCard]]
PatientSearch = Callable[[str, int], list[PatientCard]]
PractitionerLookup = Callable[[Sequence[str]], dict[str, PractitionerCard]]


@dataclass
class _Providers:
    patients: PatientLookup | None = None
    search: PatientSearch | None = None
    practitioners: PractitionerLookup | None = None
    facts: list[PatientFacts] = field(default_factory=list)


_providers = _Providers()


def provide(
    *,
    patients: PatientLookup,
    search: PatientSearch,
    practitioners: PractitionerLookup,
) -> None:
    """Called once by the module that owns patients and practitioners."""
    _providers.patients = patients
    _providers.search = search
    _providers.practitioners = practitioners


def provide_patient_facts(facts: PatientFacts) -> None:
    """Called by a module at start-up to show its facts on every patient page."""
    if facts not in _providers.facts:
        _providers.facts.append(facts)


def patient_facts(patient_id: str, permissions: frozenset[str]) -> list[PatientFact]:
    """What every module wants staff to see about a patient, filtered by the viewer's rights."""
    return [fact for source in _providers.facts for fact in source(patient_id, permissions)]


def _need(provider, what: str):
    if provider is None:
        raise RuntimeError(f"No module provides {what}; is reception installed?")
    return provider


def patient_cards(ids: Sequence[str]) -> dict[str, PatientCard]:
    wanted = [pid for pid in dict.fromkeys(ids) if pid]
    return _need(_providers.patients, "patients")(wanted) if wanted else {}


def patient_card(patient_id: str) -> PatientCard | None:
    return patient_cards([patient_id]).get(patient_id)


def search_patients(query: str, limit: int = 20) -> list[PatientCard]:
    return _need(_providers.search, "patient search")(query, limit)


def practitioner_cards(ids: Sequence[str]) -> dict[str, PractitionerCard]:
    wanted = [pid for pid in dict.fromkeys(ids) if pid]
    return _need(_providers.practitioners, "practitioners")(wanted) if wanted else {}
