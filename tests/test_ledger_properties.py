"""Property tests of the books: whatever the desk does, in whatever order, debits equal credits,
what the ledger says each patient owes equals their invoices' dues, and credit never goes
negative."""

from __future__ import annotations

import contextlib
from datetime import date
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from physioez.billing.services import dues, invoicing, ledger, payments
from physioez.billing.services.invoicing import Discount, LineRequest
from physioez.billing.services.payments import Tender
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.errors import ServiceError
from physioez.reception.services import patients
from physioez.reception.services.patients import PatientDetails

ACCOUNTS = Actor(staff_id="acct-1", roles=("billing",))
CODES = ("PT45", "BAND", "PT45X10")
MODES = ("cash", "card", "upi", "bank", "insurance")
_serial = count(1)

amounts = st.integers(min_value=1, max_value=900_000)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("invoice"),
            st.integers(0, 1),  # which patient
            st.lists(st.tuples(st.sampled_from(CODES), st.integers(1, 3)), min_size=1, max_size=3),
            st.integers(0, 2500),  # discount in basis points (billing may give up to 25 %)
        ),
        st.tuples(
            st.just("pay"),
            st.integers(0, 1),
            st.lists(st.tuples(st.sampled_from(MODES), amounts), min_size=1, max_size=3),
            st.booleans(),  # name the newest invoice, or let it pay the oldest dues
        ),
        st.tuples(st.just("use_credit"), st.integers(0, 1), st.integers(0, 5)),
        st.tuples(st.just("refund"), st.integers(0, 1), st.sampled_from(MODES), amounts),
        st.tuples(st.just("write_off"), st.integers(0, 1), st.integers(0, 5), amounts),
        st.tuples(st.just("cancel"), st.integers(0, 1), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=12,
)


def _new_patients(actor) -> list[str]:
    made = []
    for _ in range(2):
        serial = next(_serial)
        made.append(
            patients.register(
                actor,
                PatientDetails(first_name=f"Prop{serial}", phone=f"97{serial:08d}"),
                date(2026, 1, 1),
            ).id
        )
    return made


def _pick(patient_id: str, index: int):
    mine = invoicing.open_invoices(patient_id)
    return mine[index % len(mine)][0] if mine else None


def _apply(books, people: list[str], op: tuple) -> None:
    kind, who, *rest = op
    patient = people[who]
    policy = books.policy
    if kind == "invoice":
        lines, discount_bp = rest
        invoicing.issue_invoice(
            ACCOUNTS,
            policy,
            patient,
            [LineRequest(code, qty) for code, qty in lines],
            Discount(percent_bp=discount_bp, reason="property test") if discount_bp else None,
        )
    elif kind == "pay":
        tenders, name_newest = rest
        newest = invoicing.open_invoices(patient)[-1:] if name_newest else []
        payments.take_payment(
            ACCOUNTS,
            policy,
            patient,
            [Tender(mode, amount) for mode, amount in tenders],
            [invoice.id for invoice, _ in newest],
        )
    elif kind == "use_credit":
        invoice = _pick(patient, rest[0])
        if invoice is not None:
            payments.apply_credit(ACCOUNTS, policy, invoice)
    elif kind == "refund":
        mode, amount = rest
        payments.refund(ACCOUNTS, policy, patient, Tender(mode, amount), "property test")
    elif kind == "write_off":
        index, amount = rest
        invoice = _pick(patient, index)
        if invoice is not None:
            invoicing.write_off(ACCOUNTS, policy, invoice, amount, "property test")
    elif kind == "cancel":
        invoice = _pick(patient, rest[0])
        if invoice is not None:
            invoicing.cancel_invoice(ACCOUNTS, policy, invoice, "property test")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_any_sequence_keeps_the_books_balanced_and_dues_equal_receivables(books, ops):
    people = _new_patients(Actor.system("tests"))
    for op in ops:
        # Refused for a reason a person would see (over-refund, nothing owed): nothing written.
        with contextlib.suppress(ServiceError):
            _apply(books, people, op)
        rows = ledger.trial_balance()
        assert sum(dr for _, dr, _ in rows) == sum(cr for _, _, cr in rows)
        for patient in people:
            assert ledger.balance(ledger.RECEIVABLE, patient) == dues.patient_dues(patient)
            assert ledger.patient_credit(patient) >= 0
            assert ledger.balance(ledger.PACKAGE_LIABILITY, patient) <= 0
    total_receivable = ledger.balance(ledger.RECEIVABLE)
    assert total_receivable == sum(owing for _, _, _, owing in dues.owed_by_invoice())
