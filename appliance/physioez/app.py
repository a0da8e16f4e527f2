"""Assembly: the application factory that plugs the installed modules into the core.

It names no module: it iterates :func:`physioez.installed.modules` (or the modules a test
passes). The core never imports a module (a contract checked by import-linter), and modules
never import each other.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from flask import Flask

from physioez import installed
from physioez.core.kernel import identity, policies, signin
from physioez.core.kernel import migrations as core_migrations
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import Migration, migrate, open_database
from physioez.core.kernel.events import DomainEvent, PoliciesChanged, bus
from physioez.core.kernel.modules import Module
from physioez.core.kernel.node import configure_node
from physioez.core.kernel.settings import Settings, load_settings
from physioez.core.platform import background, job_retention
from physioez.core.platform.keys import open_branch_keyring
from physioez.core.platform.scheduler import ScheduledJob
from physioez.core.web import access, jobs, security, shell
from physioez.core.web.api import init_api
from physioez.core.web.modules import init_modules
from physioez.core.web.realtime import init_realtime
from physioez.core.web.shell_api import api as shell_api

WEBUI = Path(__file__).resolve().parents[2] / "webui"
# Copied from webui/node_modules by scripts/setup.sh (pinned in webui/package-lock.json).
SOCKETIO_CLIENT = "vendor/socket.io.min.js"


def all_migrations(modules: Sequence[Module] | None = None) -> list[Migration]:
    migrations = list(core_migrations.MIGRATIONS)
    for module in installed.modules() if modules is None else modules:
        migrations.extend(module.migrations)
    return migrations


def module_jobs(settings: Settings, modules: Sequence[Module] | None = None) -> list[ScheduledJob]:
    scheduled = list(job_retention.scheduled_jobs())
    for module in installed.modules() if modules is None else modules:
        jobs_of = module.resolve("jobs")
        if jobs_of is not None:
            scheduled.extend(jobs_of(settings))
    return scheduled


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "physioez", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.physioez = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def boot(settings: Settings, modules: Sequence[Module] | None = None) -> None:
    """Bring the data layer up: what both the web app and the CLI need before any work."""
    identity.configure_hashing(settings.auth.hash_profile)
    configure_node(settings.branch.id, settings.branch.timezone)
    open_database(
        settings.paths.database,
        busy_timeout_ms=settings.database.busy_timeout_ms,
        cache_mb=settings.database.cache_mb,
    )
    applied = migrate(all_migrations(modules))
    if applied:
        logging.getLogger("physioez").info("applied migrations: %s", ", ".join(applied))
    identity.ensure_default_roles(Actor.system("startup"))


def load_or_create_session_secret(path: Path) -> bytes:
    """The cookie-signing key, made once per box; never in the config file or the logs."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # Another process made it first.
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
            handle.flush()
            os.fsync(handle.fileno())
        return secret


def _follow_policies(app: Flask, file_settings: Settings) -> None:
    """When head office's policies change, requests from then on read the new settings (one
    reference swapped: a request in flight keeps the settings it started with)."""

    def refresh(event: DomainEvent) -> None:
        app.config["PHYSIOEZ"] = policies.apply(file_settings)

    bus.subscribe(PoliciesChanged, refresh)


def create_app(settings: Settings | None = None, modules: Sequence[Module] | None = None) -> Flask:
    """The web app of ``modules`` (default: the installed ones) over the core."""
    modules = installed.modules() if modules is None else tuple(modules)
    settings = settings or load_settings()
    configure_logging(settings.logging.level)
    bus.unsubscribe_all()
    boot(settings, modules)

    app = Flask(
        "physioez",
        template_folder=str(WEBUI / "templates"),
        static_folder=str(WEBUI / "static"),
    )
    app.config.update(
        # The file's settings with head office's chain policies in force (see _follow_policies).
        PHYSIOEZ=policies.apply(settings),
        SECRET_KEY=load_or_create_session_secret(settings.paths.secret_key_file),
        SESSION_COOKIE_NAME="physioez_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.server.behind_tls,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.auth.session_hours),
        # The cookie is written when the session changes (sign-in, unlock), not re-signed on
        # every answer: its expiry then ends with the server's absolute session lifetime, and
        # each request saves an HMAC and a Set-Cookie (~6 % of a booking's CPU).
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=settings.server.max_request_kb * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.extensions["physioez_migrations"] = all_migrations(modules)
    app.extensions["physioez_modules"] = modules
    background.configure(settings.paths.data_dir)
    # Only the serving process creates the app (CLI commands call boot() alone), so any job
    # still queued or running in the table belonged to a process that has gone.
    job_retention.fail_interrupted()
    app.extensions["physioez_keyring"] = open_branch_keyring(settings.paths.key_file)
    app.extensions["physioez_signin_guard"] = signin.SignInGuard(
        signin.SignInPolicy(
            lockout_threshold=settings.auth.lockout_threshold,
            lockout_minutes=settings.auth.lockout_minutes,
            ip_attempts_per_window=settings.auth.ip_attempts_per_window,
            ip_window_minutes=settings.auth.ip_window_minutes,
        )
    )

    access.login_manager.init_app(app)
    access.login_manager.login_view = "shell.sign_in"
    security.init_security(app)
    app.before_request(access.enforce_access)

    app.register_blueprint(shell.bp)
    app.register_blueprint(jobs.bp)
    for module in modules:
        start = module.resolve("start")
        if start is not None:
            start()
    init_api(app, [shell_api, *init_modules(app, modules)])
    _follow_policies(app, settings)
    if settings.realtime.enabled:
        init_realtime(app)
        if (WEBUI / "static" / SOCKETIO_CLIENT).is_file():
            app.config["PHYSIOEZ_SOCKETIO_CLIENT"] = SOCKETIO_CLIENT
    return app
