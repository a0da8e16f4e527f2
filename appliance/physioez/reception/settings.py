"""The `[reception]` settings section (docs/settings.md describes every key)."""

from __future__ import annotations

from pydantic import Field, field_validator

from physioez.core.kernel.settings import Section


class ReceptionSettings(Section):
    required_documents: list[str] = Field(
        ["id", "consent_form"],
        description="Documents every patient should have; the patient page lists what is missing.",
    )
    max_document_mb: int = Field(
        10, ge=1, le=100, description="Largest patient document upload, in MiB."
    )

    late_cancel_hours: int = Field(
        24, ge=0, le=168, description="A cancellation this close to the start is flagged late."
    )
    auto_no_show: bool = Field(
        False, description="At day end, mark booked patients who never arrived as no-shows."
    )

    @field_validator("required_documents", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # Environment variables can only carry text: "id,consent_form".
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("required_documents")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        known = {"id", "consent_form", "referral_letter", "insurance", "report", "other"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown document kind {unknown} (use {sorted(known)})")
        return value
