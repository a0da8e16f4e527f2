"""A real record behind every id in a route, for tests that call each route once or many times.

Throwaway records, so an action the caller may take harms nobody's access: a receptionist who
is not the caller, a role nobody else holds, a token of that receptionist's.
"""

from __future__ import annotations

from datetime import date

import pytest

from physioez.admin.services.tokens import create_api_token
from physioez.billing.services import invoicing, payments, pricing
from physioez.billing.services.policy import BillingPolicy
from physioez.core.kernel import records
from physioez.core.kernel.models import Role
from physioez.reception.services import appointments, feeds, inquiries, patients, slots, waitlist
from physioez.reception.services.patients import PatientDetails
from tests.reception_fixtures import MONDAY, ZONE, at


@pytest.fixture
def route_targets(app, make_staff, system_actor, clinic):
    """Route parameter name -> the id of a real record (or a placeholder) it can take."""
    with app.app_context():
        target = make_staff("receptionist", username="matrix.target")
        role = records.create(
            Role,
            system_actor,
            code="matrix_target",
            name="Matrix target",
            permissions=["core.shell.use"],
        )
        token, _ = create_api_token(
            system_actor, target, name="matrix", scopes=["core.shell.use"], expires_days=1
        )
        patient = patients.register(
            system_actor,
            PatientDetails(first_name="Matrix", last_name="Target", phone="9000000000"),
            date(2026, 1, 1),
        )
        document = patients.add_document(
            system_actor,
            patient,
            kind="id",
            filename="id.pdf",
            data=b"%PDF-1.7 matrix",
            max_bytes=10_000,
            keyring=app.extensions["physioez_keyring"],
            documents_dir=app.config["PHYSIOEZ"].paths.data_dir / "documents",
        )
        appointment = appointments.book(
            system_actor,
            slots.Slot(
                patient_id=clinic.asha.id,
                practitioner_id=clinic.rao.id,
                type_id=clinic.physio.id,
                start=at(MONDAY, "10:00"),
            ),
            ZONE,
        )
        policy = BillingPolicy.from_settings(app.config["PHYSIOEZ"])
        pricing.create_service(
            system_actor, code="MTX", name="Matrix session", price=100, valid_from=MONDAY
        )
        invoice = invoicing.issue_invoice(
            system_actor, policy, clinic.meena.id, [invoicing.LineRequest("MTX")]
        )
        receipt = payments.take_payment(
            system_actor, policy, clinic.meena.id, [payments.Tender("cash", 50)]
        )
        lead = inquiries.record_inquiry(
            system_actor,
            inquiries.InquiryDetails(name="Matrix Lead", phone="9111111111", source="phone"),
        )
    return {
        "feed_id": feeds.create_feed(system_actor, clinic.iyer.id)[0].id,
        "entry_id": waitlist.add(
            system_actor,
            patient_id=clinic.ravi.id,
            type_id=clinic.physio.id,
            practitioner_id=None,
        ).id,
        "token": "not-a-real-token",
        "what": "rule",
        "row_id": "no-such-row",
        "appointment_id": appointment.id,
        "inquiry_id": lead.id,
        "task_id": inquiries.add_task(system_actor, lead, "Call back", MONDAY).id,
        "practitioner_id": clinic.iyer.id,
        "staff_id": target.id,
        "code": role.code,
        "token_id": token.id,
        "patient_id": patient.id,
        "document_id": document.id,
        "invoice_id": invoice.id,
        "payment_id": receipt.id,
        "job_id": "no-such-job",
        "expense_id": "no-such-expense",
        "table": "invoices",
        "fmt": "csv",
    }
