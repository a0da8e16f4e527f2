"""The front desk's slice of ``/api/v1``: one ``Api`` shared by its areas, plus inquiries."""

from __future__ import annotations

from physioez.core.web.api import Api

api = Api("reception", tag="Reception")

# Importing the area modules registers their routes on ``api``.
from physioez.reception.api import appointments, patients  # noqa: E402, F401
