"""Waitlist offers when a slot frees, consent-aware reminders, and the desk's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from physioez.reception.models import Appointment, Reminder, WaitlistEntry
from physioez.reception.services import appointments, patients, reminders, waitlist
from physioez.reception.services.slots import Slot
from tests.reception_fixtures import MONDAY, ZONE, at


def book(c, actor, patient, when="10:00", day=MONDAY):
    return appointments.book(
        actor,
        Slot(
            patient_id=patient.id,
            practitioner_id=c.rao.id,
            type_id=c.physio.id,
            start=at(day, when),
        ),
        ZONE,
    )


def test_cancelled_slot_is_offered_to_the_best_match(clinic, system_actor):
    taken = book(clinic, system_actor, clinic.asha)
    later = waitlist.add(
        system_actor,
        patient_id=clinic.ravi.id,
        type_id=clinic.physio.id,
        practitioner_id=None,
        priority=3,
    )
    urgent = waitlist.add(
        system_actor,
        patient_id=clinic.meena.id,
        type_id=clinic.physio.id,
        practitioner_id=clinic.rao.id,
        priority=1,
        weekdays=["MO"],
        earliest="09:00",
        latest="11:00",
    )
    wrong_day = waitlist.add(
        system_actor,
        patient_id=clinic.ravi.id,
        type_id=clinic.physio.id,
        practitioner_id=None,
        weekdays=["TU"],
    )
    appointments.cancel(system_actor, taken, "Unwell", late_cancel_hours=24)
    states = {e.id: e.status for e in WaitlistEntry.select()}
    assert states[urgent.id] == "offered" and states[later.id] == "offered"
    assert states[wrong_day.id] == "waiting"
    assert next(e.id for e in waitlist.open_entries()) == urgent.id


def test_waitlist_rules(clinic, system_actor):
    import pytest

    from physioez.core.kernel.errors import InvalidInput

    with pytest.raises(InvalidInput, match="after"):
        waitlist.add(
            system_actor,
            patient_id=clinic.asha.id,
            type_id=clinic.physio.id,
            practitioner_id=None,
            earliest="12:00",
            latest="10:00",
        )
    with pytest.raises(InvalidInput, match="weekday"):
        waitlist.add(
            system_actor,
            patient_id=clinic.asha.id,
            type_id=clinic.physio.id,
            practitioner_id=None,
            weekdays=["XX"],
        )


def test_reminders_follow_consents_and_moves(clinic, system_actor):
    patients.set_consent(system_actor, clinic.asha, "reminders_sms", True)
    patients.set_consent(system_actor, clinic.asha, "reminders_whatsapp", False)
    patients.set_consent(system_actor, clinic.ravi, "reminders_whatsapp", True)
    first = book(clinic, system_actor, clinic.asha)
    book(clinic, system_actor, clinic.ravi, when="11:00")
    book(clinic, system_actor, clinic.meena, when="12:00")  # never asked: no reminder
    counts = reminders.queue_for_day(system_actor, MONDAY, ZONE)
    assert counts["queued"] == 2
    queued = {(r.appointment.patient.first_name, r.channel) for r in Reminder.select()}
    assert queued == {("Asha", "sms"), ("Ravi", "whatsapp")}
    assert reminders.queue_for_day(system_actor, MONDAY, ZONE)["queued"] == 0  # idempotent
    sms = Reminder.get(Reminder.channel == "sms")
    assert sms.send_after == at(MONDAY - timedelta(days=1), "18:00")
    appointments.reschedule(system_actor, first, start=at(MONDAY, "16:00"), timezone=ZONE)
    assert Reminder.get_by_id(sms.id).status == "cancelled"
    assert reminders.queue_for_day(system_actor, MONDAY, ZONE)["queued"] == 1
    assert Reminder.get_by_id(sms.id).status == "queued"


def test_pages(clinic, client_for, system_actor):
    desk = client_for("receptionist")
    page = desk.get("/reception/waitlist?q=asha")
    assert page.status_code == 200 and b"Add to waitlist" in page.data
    response = desk.post(
        "/reception/waitlist",
        data={
            "patient_id": clinic.asha.id,
            "type_id": clinic.physio.id,
            "priority": "1",
            "weekdays": ["MO", "WE"],
        },
    )
    assert response.status_code == 302
    assert b"Asha Test" in desk.get("/reception/waitlist").data
    response = desk.post("/reception/waitlist", data={"type_id": clinic.physio.id})
    assert response.status_code == 422 and b"choose the patient" in response.data
    entry = WaitlistEntry.get()
    assert (
        desk.post(f"/reception/waitlist/{entry.id}", data={"status": "removed"}).status_code == 302
    )
    assert WaitlistEntry.get_by_id(entry.id).status == "removed"
    assert desk.get("/reception/reminders").status_code == 200
    assert desk.post("/reception/reminders").status_code == 302


def test_scheduled_jobs_are_registered(app, settings):
    from physioez.app import module_jobs
    from physioez.core.platform.scheduler import start_scheduler

    scheduler = start_scheduler(settings, module_jobs(settings))
    try:
        registered = {job.id for job in scheduler.get_jobs()}
        assert {"reception-reminders", "reception-no-shows"} <= registered
    finally:
        scheduler.shutdown(wait=False)


def test_the_no_show_sweep_follows_the_setting_and_head_offices_policy(app, settings, monkeypatch):
    from physioez.core.kernel import policies
    from physioez.reception import jobs
    from physioez.sync.services import downstream

    swept = []
    monkeypatch.setattr(
        appointments, "mark_day_no_shows", lambda actor, day, zone: swept.append(day)
    )

    def sweep(with_settings) -> None:
        [job] = [job for job in jobs.jobs(with_settings) if job.id == "reception-no-shows"]
        job.func()

    sweep(settings)
    assert swept == []  # off by default
    sweep(settings.with_overrides({"reception.auto_no_show": True}))
    assert len(swept) == 1
    row = policies.policy_row(
        "reception.auto_no_show", True, "999999999999990-0000-HQ", "2026-11-24T09:00:00.000000Z"
    )
    downstream.apply_down(
        [
            {
                "seq": 1,
                "table": "chain_policy",
                "key": row["id"],
                "op": "update",
                "hlc": row["hlc"],
                "row": row,
            }
        ],
        1,
    )
    sweep(settings)  # the file says off; head office says on
    assert len(swept) == 2


def test_day_end_job_marks_no_shows(clinic, system_actor):
    book(clinic, system_actor, clinic.asha)
    assert appointments.mark_day_no_shows(system_actor, MONDAY, ZONE) == 1
    assert Appointment.get().status == "no_show"
