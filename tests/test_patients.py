"""Patients: registration rules, gap-free MRNs, duplicates, search, consents, documents, merge."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from physioez.core.kernel.audit import verify_chain
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import InvalidInput
from physioez.core.kernel.models import AuditEvent, OutboxEntry
from physioez.reception.models import Patient, PatientConsent, PatientDocument
from physioez.reception.services import patients
from physioez.reception.services.patients import PatientDetails

TODAY = date(2026, 11, 23)
PDF = b"%PDF-1.7\n" + b"x" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def details(**overrides) -> PatientDetails:
    values = {
        "first_name": "Asha",
        "last_name": "Menon",
        "sex": "female",
        "date_of_birth": date(1988, 4, 12),
        "phone": "+91 98450 12345",
    }
    values.update(overrides)
    return PatientDetails(**values)


def test_register_gives_gap_free_mrns_and_writes_audit_and_outbox(app, system_actor):
    first = patients.register(system_actor, details(), TODAY)
    second = patients.register(system_actor, details(first_name="Ravi", phone="9000000001"), TODAY)
    assert (first.mrn, second.mrn) == ("TEST-000001", "TEST-000002")
    assert first.phone_key == "9845012345"
    assert AuditEvent.select().where(AuditEvent.entity_id == first.id).count() == 1
    assert OutboxEntry.select().where(OutboxEntry.row_key == first.id).count() == 1


def test_a_rolled_back_registration_returns_its_number(app, system_actor):
    with pytest.raises(RuntimeError), write_transaction():
        patients.register(system_actor, details(), TODAY)
        raise RuntimeError("power cut")
    assert patients.register(system_actor, details(), TODAY).mrn == "TEST-000001"


def test_concurrent_registrations_never_share_or_skip_a_number(app, system_actor):
    made, errors = [], []

    def desk(n):
        try:
            database.connect(reuse_if_open=True)
            for i in range(10):
                made.append(
                    patients.register(
                        system_actor,
                        details(first_name=f"P{n}x{i}", phone=f"98{n:04d}{i:04d}"),
                        TODAY,
                    ).mrn
                )
        except Exception as exc:  # collected for the assertion
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(made) == [f"TEST-{n:06d}" for n in range(1, 41)]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": "  "}, "first_name", "first name"),
        ({"sex": "robot"}, "sex", "female, male"),
        ({"phone": "12-34"}, "phone", "at least 7 digits"),
        ({"email": "asha@"}, "email", "does not look right"),
        ({"date_of_birth": date(2027, 1, 1)}, "date_of_birth", "future"),
        ({"date_of_birth": None, "age_years": 130}, "age_years", "between 0 and 120"),
        ({"consents": {"telepathy": True}}, "consents", "Unknown consent"),
    ],
)
def test_registration_rules_name_the_field(app, system_actor, overrides, field, message):
    with pytest.raises(InvalidInput) as raised:
        patients.register(system_actor, details(**overrides), TODAY)
    assert raised.value.field == field and message in raised.value.message
    assert Patient.select().count() == 0


def test_age_instead_of_date_of_birth_is_marked_estimated(app, system_actor):
    patient = patients.register(system_actor, details(date_of_birth=None, age_years=40), TODAY)
    assert patient.date_of_birth == date(1986, 1, 1) and patient.dob_estimated


def test_consents_record_who_and_when_and_keep_history(app, system_actor, make_staff):
    from physioez.core.kernel.audit import Actor

    receptionist = make_staff("receptionist")
    actor = Actor(receptionist.id, ("receptionist",))
    patient = patients.register(
        actor, details(consents={"treatment": True, "reminders_sms": True}), TODAY
    )
    patients.set_consent(actor, patient, "reminders_sms", False, note="asked to stop")
    current = patients.current_consents(patient)
    assert current["treatment"].given and current["treatment"].captured_by == receptionist.id
    assert current["reminders_sms"].given is False
    assert current["data_sharing"] is None
    assert PatientConsent.select().where(PatientConsent.kind == "reminders_sms").count() == 2


def test_duplicates_by_phone_and_by_similar_name_with_same_birthday(app, system_actor):
    asha = patients.register(system_actor, details(), TODAY)
    by_phone = patients.find_duplicates(phone="098450-12345")
    assert [m.patient.id for m in by_phone] == [asha.id]
    assert by_phone[0].reasons == ("same phone number",)
    by_name = patients.find_duplicates(
        first_name="Aasha", last_name="Menon", date_of_birth=date(1988, 4, 12)
    )
    assert [m.patient.id for m in by_name] == [asha.id]
    assert (
        patients.find_duplicates(
            first_name="Zoe", last_name="Smith", date_of_birth=date(1988, 4, 12)
        )
        == []
    )
    assert patients.find_duplicates(phone="9845012345", exclude_id=asha.id) == []


def test_search_by_name_prefix_phone_and_mrn(app, system_actor):
    asha = patients.register(system_actor, details(), TODAY)
    patients.register(
        system_actor, details(first_name="Ravi", last_name="Kumar", phone="9123456780"), TODAY
    )
    assert [p.id for p in patients.search("ash men")] == [asha.id]
    assert [p.id for p in patients.search("Menon")] == [asha.id]
    assert [p.id for p in patients.search("98450 12")] == [asha.id]
    assert [p.id for p in patients.search("test-1")] == [asha.id]
    assert patients.search("nobody") == [] and patients.search("   ") == []
    patients.update_details(system_actor, asha, details(last_name="Nair"), TODAY)
    assert [p.id for p in patients.search("nair")] == [asha.id]
    assert patients.search("menon") == []


def test_search_ignores_fts_syntax_in_input(app, system_actor):
    patients.register(system_actor, details(), TODAY)
    for hostile in ('"', "NEAR(", "a OR b*", "name:x", "-", "'; DROP TABLE patient; --"):
        patients.search(hostile)  # Must not raise.


def test_merge_moves_history_and_keeps_a_pointer(app, system_actor):
    keep = patients.register(
        system_actor, details(alerts=["Diabetic"], consents={"treatment": True}), TODAY
    )
    dup = patients.register(
        system_actor,
        details(
            first_name="Aasha",
            phone="9000000002",
            alerts=["Pacemaker"],
            consents={"reminders_sms": True},
        ),
        TODAY,
    )
    patients.merge(system_actor, dup, keep)
    dup = Patient.get_by_id(dup.id)
    keep = Patient.get_by_id(keep.id)
    assert dup.merged_into_id == keep.id and dup.deleted_at is not None
    assert keep.alerts == ["Diabetic", "Pacemaker"]
    assert patients.current_consents(keep)["reminders_sms"].given
    assert patients.search("aasha") == []
    actions = {e.action for e in AuditEvent.select()}
    assert {"patient.merged_away", "patient.merge_kept", "patient_consent.moved_by_merge"} <= (
        actions
    )
    with pytest.raises(Exception, match="already merged"):
        patients.merge(system_actor, dup, keep)
    assert verify_chain().ok


def test_documents_are_checked_by_content_encrypted_and_audited_on_read(
    app, system_actor, settings
):
    keyring = app.extensions["physioez_keyring"]
    folder = settings.paths.data_dir / "documents"
    patient = patients.register(system_actor, details(), TODAY)
    canary = b"%PDF-1.7 CANARY-REFERRAL-TEXT " + b"y" * 500
    document = patients.add_document(
        system_actor,
        patient,
        kind="referral_letter",
        filename="../../etc/passwd.pdf",
        data=canary,
        max_bytes=1024 * 1024,
        keyring=keyring,
        documents_dir=folder,
    )
    assert document.filename == "passwd.pdf" and document.content_type == "application/pdf"
    stored = patients.document_path(folder, document.id).read_bytes()
    assert b"CANARY-REFERRAL-TEXT" not in stored
    assert patients.read_document(system_actor, document, keyring, folder) == canary
    assert (
        AuditEvent.select()
        .where(AuditEvent.kind == "read", AuditEvent.entity_id == document.id)
        .count()
        == 1
    )
    with pytest.raises(InvalidInput, match="PDF, JPEG or PNG"):
        patients.add_document(
            system_actor,
            patient,
            kind="id",
            filename="x.pdf",
            data=b"MZ\x90\x00 not a pdf",
            max_bytes=10**6,
            keyring=keyring,
            documents_dir=folder,
        )
    with pytest.raises(InvalidInput, match="larger than"):
        patients.add_document(
            system_actor,
            patient,
            kind="id",
            filename="big.png",
            data=PNG + b"0" * 3_000_000,
            max_bytes=2 * 1024 * 1024,
            keyring=keyring,
            documents_dir=folder,
        )
    assert PatientDocument.select().count() == 1
    assert patients.missing_documents(patient, ["id", "referral_letter"]) == ["id"]
