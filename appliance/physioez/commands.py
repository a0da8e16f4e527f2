"""Where every command starts: the settings (with each installed module's section) and the
data layer booted, with a bad setting told as a command-line error.

The ``physioez`` command, the modules' own command groups (``Module(cli=...)``) and
``physioez-hq`` share these. A module's commands import them from here, never from
``physioez.cli``: that command assembles the modules (``create-admin`` calls the admin
module's services), so importing it would make one module import another.
"""

from __future__ import annotations

import click

from physioez import installed
from physioez.core.kernel.settings import Settings, SettingsError, load_settings


def load_command_settings() -> Settings:
    installed.modules()  # Their settings sections, before the file is read.
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def boot_for_command() -> Settings:
    from physioez.app import boot

    settings = load_command_settings()
    boot(settings)
    return settings
