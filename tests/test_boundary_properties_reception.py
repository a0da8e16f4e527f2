"""Arbitrary input at the patient page's document upload and the merge page, through the
pages: never a 5xx, and a refused request writes no row (the helpers and the tables watched
are ``test_boundary_properties``')."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from physioez.reception.models import PatientDocument
from tests.test_boundary_properties import PROPERTY, desk, drive, fields, send, text
from tests.test_patients import PNG

__all__ = ["desk"]  # the fixture, used by name


def test_document_upload_page(books, desk):
    url = f"/reception/patients/{books.clinic.asha.id}/documents"

    @PROPERTY
    @given(st.one_of(st.just("id"), text))
    def run(kind):
        before = PatientDocument.select().count()
        answer = send(desk.post, url, data={"kind": kind, "file": (io.BytesIO(PNG), "id.png")})
        if answer.status_code >= 400:
            assert PatientDocument.select().count() == before

    run()


def test_merge_page(books, desk):
    clinic = books.clinic
    url = f"/reception/patients/{clinic.meena.id}/merge"

    drive(desk.post, url, fields({"duplicate_id": clinic.ravi.id}, text))
