"""The web shell: sign-in and out, lock screen, password and PIN, profile, home, health."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from physioez import __version__
from physioez.core.kernel import directory, identity, sessions, signin
from physioez.core.kernel.db import database, migration_status
from physioez.core.kernel.errors import ServiceError
from physioez.core.kernel.models import Staff, parse_utc
from physioez.core.kernel.permissions import REGISTRY
from physioez.core.web.access import (
    can,
    current_actor,
    current_permissions,
    may_open,
    public,
    requires,
    safe_next,
)
from physioez.core.web.branch import current_settings
from physioez.core.web.nav import visible_nav

bp = Blueprint("shell", __name__)


def _guard() -> signin.SignInGuard:
    return current_app.extensions["physioez_signin_guard"]


def _start_session(staff: Staff) -> None:
    """A fresh session for ``staff``: new cookie contents, new server-side record."""
    csrf = session.get("csrf")
    sessions.end(session.get("sid"))
    session.clear()
    if csrf:
        session["csrf"] = csrf
    login_user(staff)
    session.permanent = True
    actor = current_actor()
    session["sid"] = sessions.start(staff.id, actor.ip, actor.device)


def local_time(value: datetime | str | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    """Show a stored UTC time (a datetime or its stored text) in the branch's time zone."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = parse_utc(value)
    return value.astimezone(ZoneInfo(current_settings().branch.timezone)).strftime(fmt)


@bp.app_context_processor
def _shell_context():
    permissions = current_permissions() if current_user.is_authenticated else frozenset()
    return {
        "settings": current_settings(),
        "nav_items": visible_nav(current_app, permissions) if permissions else [],
        "can": can,
        "local_time": local_time,
        # What other modules say about a patient (dues, packs), for whoever may see it.
        "patient_facts": lambda patient_id: directory.patient_facts(patient_id, permissions),
        "version": __version__,
        "socketio_client": current_app.config.get("PHYSIOEZ_SOCKETIO_CLIENT"),
    }


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    next_page = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        state = sessions.get(session.get("sid"))
        if state and not state.ended and not state.locked:
            return redirect(next_page)
    error = None
    username = request.form.get("username", "")
    if request.method == "POST":
        try:
            staff = _guard().sign_in(
                current_actor(), username, request.form.get("password", ""), with_pin=False
            )
        except ServiceError as exc:
            error = exc.message
            return render_template(
                "shell/sign_in.html", error=error, username=username, next=next_page
            ), exc.status
        _start_session(staff)
        if staff.must_change_password:
            flash("Welcome! Choose your own password before you start.", "info")
            return redirect(url_for("shell.change_password", next=next_page))
        return redirect(next_page)
    return render_template("shell/sign_in.html", error=error, username=username, next=next_page)


@bp.route("/sign-out", methods=["POST"])
@requires("core.shell.use")
def sign_out():
    sessions.end(session.get("sid"))
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("shell.sign_in"))


def _lock_page(next_page: str, error: str | None = None, username: str = "", status: int = 200):
    return render_template(
        "shell/lock.html",
        staff=identity.staff_who_can_unlock(),
        next=next_page,
        error=error,
        username=username,
    ), status


@bp.route("/lock", methods=["GET"])
@requires("core.shell.use")
def lock():
    """Lock the screen: the next person unlocks with their own PIN (quick user switch).

    A GET, so the idle timer can simply navigate here; it only ever locks the caller's own
    session, which is harmless if triggered from elsewhere.
    """
    sessions.set_locked(session.get("sid"), True)
    return _lock_page(safe_next(request.args.get("next")))


@bp.route("/unlock", methods=["POST"])
@requires("core.shell.use")
def unlock():
    next_page = safe_next(request.form.get("next"))
    username = request.form.get("username", "")
    try:
        staff = _guard().sign_in(
            current_actor(), username, request.form.get("pin", ""), with_pin=True
        )
    except ServiceError as exc:
        return _lock_page(next_page, exc.message, username, exc.status)
    if staff.id != current_user.id:
        _start_session(staff)
        g.pop("permissions", None)  # They were the previous person's.
        if not may_open(next_page):
            flash(
                f"Welcome, {staff.full_name}. The page left open is not part of your role, "
                "so here is your start page.",
                "info",
            )
            next_page = url_for("shell.home")
    else:
        sessions.set_locked(session.get("sid"), False)
    return redirect(next_page)


@bp.route("/account/password", methods=["GET", "POST"])
@requires("core.shell.use")
def change_password():
    next_page = safe_next(request.values.get("next"))
    if request.method == "POST":
        new_password = request.form.get("password", "")
        if new_password != request.form.get("password_repeat", ""):
            return render_template(
                "shell/password.html",
                error="The two new passwords differ.",
                field="password_repeat",
                next=next_page,
            ), 422
        try:
            staff = identity.change_own_password(
                current_actor(),
                current_user._get_current_object(),
                request.form.get("current_password", ""),
                new_password,
                current_settings().auth.password_min_length,
            )
        except ServiceError as exc:
            return render_template(
                "shell/password.html", error=exc.message, field=exc.field, next=next_page
            ), exc.status
        # The epoch changed and other sessions end; this device carries on in a fresh one.
        sessions.end_all_for(staff.id, keep=session.get("sid"))
        _start_session(staff)
        flash("Your password is changed.", "success")
        return redirect(next_page)
    return render_template("shell/password.html", error=None, field=None, next=next_page)


@bp.route("/profile", methods=["GET"])
@requires("core.shell.use")
def profile():
    permissions = sorted(current_permissions())
    return render_template(
        "shell/profile.html",
        staff=current_user,
        permissions=[REGISTRY[code] for code in permissions],
        error=None,
        field=None,
    )


@bp.route("/profile/pin", methods=["POST"])
@requires("core.shell.use")
def set_pin():
    try:
        identity.set_own_pin(
            current_actor(),
            current_user._get_current_object(),
            request.form.get("current_password", ""),
            request.form.get("pin", ""),
        )
    except ServiceError as exc:
        return render_template(
            "shell/profile.html",
            staff=current_user,
            permissions=[REGISTRY[code] for code in sorted(current_permissions())],
            error=exc.message,
            field=exc.field,
        ), exc.status
    flash("Your PIN is set. Use it to unlock a shared screen.", "success")
    return redirect(url_for("shell.profile"))


@bp.route("/", methods=["GET"])
@requires("core.shell.use")
def home():
    items = visible_nav(current_app, current_permissions())
    main = main_area(items)
    if main is not None:
        # Someone who works in one area (the desk, the accounts office) goes straight to work;
        # the menu is for those whose day spans several.
        return redirect(url_for(main.endpoint))
    return render_template("shell/home.html", items=items, now=datetime.now(UTC))


def main_area(items):
    """The first page of the area holding more than two thirds of a person's pages, if any."""
    if not items:
        return None
    counts = Counter(item.section for item in items)
    section, held = counts.most_common(1)[0]
    if held * 3 <= len(items) * 2:
        return None
    return next(item for item in items if item.section == section)


@bp.route("/healthz", methods=["GET"])
@public
def healthz():
    """Unauthenticated health for monitoring: database, migrations, version; no data."""
    report = {"version": __version__, "database": "ok", "migrations": {}}
    status = 200
    try:
        database.execute_sql("SELECT 1").fetchone()
        applied, pending = migration_status(current_app.extensions["physioez_migrations"])
        report["migrations"] = {"applied": len(applied), "pending": pending}
        if pending:
            status = 503
    except Exception as exc:  # Health must answer whatever broke.
        report["database"] = f"error: {type(exc).__name__}"
        status = 503
    report["status"] = "ok" if status == 200 else "degraded"
    return jsonify(report), status
