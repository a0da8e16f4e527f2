"""Front-desk queries. The team directory answers the desk's daily question: who is in?"""

from __future__ import annotations

from dataclasses import dataclass

from physioez.core.models import Staff

# The order a receptionist scans the directory in: clinicians first, then the office.
DIRECTORY_GROUPS = (
    ("Therapists", ("therapist", "junior_therapist")),
    ("Front desk", ("receptionist",)),
    ("Accounts", ("billing",)),
    ("Management", ("owner", "branch_manager", "clinic_admin")),
)


@dataclass(frozen=True)
class DirectoryGroup:
    title: str
    members: list[Staff]


def team_directory() -> list[DirectoryGroup]:
    staff = list(Staff.live().where(Staff.active == True).order_by(Staff.full_name))  # noqa: E712
    groups = []
    for title, roles in DIRECTORY_GROUPS:
        members = [member for member in staff if set(member.role_codes) & set(roles)]
        if members:
            groups.append(DirectoryGroup(title, members))
    return groups
