"""The throwaway module's page, API route, navigation entry, job and command."""

from __future__ import annotations

import click
from flask import Blueprint, current_app
from pydantic import BaseModel

from physioez.core.platform.scheduler import ScheduledJob
from physioez.core.web.access import requires
from physioez.core.web.api import Api
from physioez.core.web.modules import WebParts
from physioez.core.web.nav import NavItem

bp = Blueprint("throwaway", __name__, url_prefix="/throwaway")
api = Api("throwaway", tag="Throwaway")


class NoteCount(BaseModel):
    notes: int


@bp.get("/")
@requires("throwaway.notes.read")
def notes_page():
    return current_app.config["PHYSIOEZ"].throwaway.greeting


@api.route(
    "/throwaway/notes",
    "GET",
    permission="throwaway.notes.read",
    summary="Count throwaway notes",
    response=NoteCount,
)
def count_notes():
    return NoteCount(notes=0)


WEB = WebParts(
    blueprints=(bp,),
    apis=(api,),
    nav=(NavItem("Throwaway", "Notes", "throwaway.notes_page", "throwaway.notes.read"),),
)


def jobs(settings) -> list[ScheduledJob]:
    return [ScheduledJob("throwaway-tidy", lambda: None, "interval", {"hours": 1})]


@click.command("throwaway")
def command() -> None:
    """Say the greeting."""
    click.echo("throwaway says hello")
