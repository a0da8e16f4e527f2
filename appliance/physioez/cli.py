"""The ``physioez`` command: serve, migrate, create-admin, seed-demo, audit, keys, printers."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime

import click

from physioez import __version__
from physioez.core.kernel.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _boot() -> Settings:
    from physioez.app import boot

    settings = _settings()
    boot(settings)
    return settings


@click.group()
@click.version_option(__version__, prog_name="physioez")
def main() -> None:
    """PhysioEZ clinic appliance."""


@main.command()
@click.option("--host", help="Listen address (default: server.host).")
@click.option("--port", type=int, help="Listen port (default: server.port).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the web app with gunicorn: one process, gthread worker, live updates."""
    from gunicorn.app.base import BaseApplication

    settings = _settings()
    bind = f"{host or settings.server.host}:{port or settings.server.port}"

    class Appliance(BaseApplication):
        def load_config(self) -> None:
            # One process: the write lock and the sign-in rate limiter live in it.
            self.cfg.set("bind", [bind])
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", settings.server.threads)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("accesslog", None)  # The app writes its own JSON access log.
            # gunicorn's control socket could add workers at run time, breaking the
            # one-process rule; the box is managed through systemd instead.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            import atexit
            import gc
            import logging

            from physioez.app import create_app, module_jobs
            from physioez.core.platform.scheduler import add_jobs, start_scheduler

            app = create_app(settings)
            # Python's default (a young-generation pass every 700 net allocations) promoted a
            # big page's temporaries while it was being built, and every ~20 day views a full
            # collection then took 30-45 ms inside one request (bench/dataset.py: day-page
            # p95 50-60 ms for a p50 of 16 ms). At 10,000 a page's temporaries are freed
            # before a pass sees them; cycles are still collected.
            gc.set_threshold(10_000, 10, 10)
            # Background jobs live exactly as long as the serving worker.
            scheduler = start_scheduler(settings, module_jobs(settings))
            atexit.register(scheduler.shutdown, wait=False)
            if settings.sync.enabled:
                from physioez.sync import runtime

                # Replication, like the jobs, runs in the serving worker and stops with it. A
                # mistake in its settings must not stop the clinic: it works without head office.
                try:
                    publisher = runtime.start_publisher(settings)
                except runtime.SyncConfigError as exc:
                    logging.getLogger("physioez.sync").error("replication is off: %s", exc)
                else:
                    app.extensions["physioez_sync"] = publisher
                    add_jobs(scheduler, runtime.publisher_jobs(publisher))
                    atexit.register(publisher.stop)
            return app

    click.echo(f"PhysioEZ {__version__} serving on http://{bind}/", err=True)
    Appliance().run()


@main.command()
def migrate() -> None:
    """Apply pending database migrations (also done at every start)."""
    from physioez.app import all_migrations
    from physioez.core.kernel.db import migrate as run
    from physioez.core.kernel.db import migration_status, open_database

    settings = _settings()
    open_database(settings.paths.database, settings.database.busy_timeout_ms)
    applied = run(all_migrations(), progress=lambda mid: click.echo(f"applying {mid}"))
    done, _ = migration_status(all_migrations())
    click.echo(f"{len(applied)} applied now; {len(done)} in total; database is up to date.")


@main.command("create-admin")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin(username: str, full_name: str, password_stdin: bool) -> None:
    """Create an owner account (first boot, or when every owner is locked out)."""
    from physioez.core.kernel import identity
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.errors import ServiceError

    settings = _boot()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise click.ClickException("The two passwords differ.")
    try:
        staff = identity.create_staff(
            Actor.system("cli:create-admin"),
            username=username,
            full_name=full_name,
            role_codes=["owner"],
            password=password,
            min_password_length=settings.auth.password_min_length,
            must_change_password=False,
        )
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Owner '{staff.username}' created.")


@main.command("seed-demo")
def seed_demo() -> None:
    """Add demo accounts, patients, four weeks of book and their billing (evaluation boxes)."""
    from zoneinfo import ZoneInfo

    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.db import write_transaction
    from physioez.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
    from physioez.demo import seed_demo as seed
    from physioez.demo_billing import seed_billing
    from physioez.demo_reception import seed_reception

    settings = _boot()
    created = seed(settings.auth.password_min_length)
    click.echo(f"{len(created)} demo accounts created.")
    today = datetime.now(ZoneInfo(settings.branch.timezone)).date()
    actor = Actor.system("cli:seed-demo")
    click.echo("Filling the front desk and the accounts desk (four weeks of book, billing) ...")
    # One transaction: attended sessions reach billing dated on their own days, before any
    # attendance event (delivered after the commit) could file them under today.
    with write_transaction():
        made = seed_reception(actor, today, settings.branch.timezone)
        billed = seed_billing(actor, today, settings)
    if any(made.values()):
        click.echo(
            f"  {made['practitioners']} practitioners, {made['patients']} patients, "
            f"{made['appointments']} appointments."
        )
    else:
        click.echo("  front desk already there; left as it was.")
    if any(billed.values()):
        click.echo(
            f"  {billed['services']} price-list items, {billed['invoices']} invoices, "
            f"{billed['receipts']} receipts, {billed['packages']} packs sold, "
            f"{billed['days_closed']} days closed."
        )
    else:
        click.echo("  billing already there; left as it was.")
    click.echo(f"Demo sign-ins (password '{DEMO_PASSWORD}' for all):")
    for account in DEMO_ACCOUNTS:
        click.echo(f"  {account.role:<18} username {account.username:<12} PIN {account.pin}")


@main.group()
def audit() -> None:
    """Check and read the audit chain."""


@audit.command("verify")
def audit_verify() -> None:
    """Check every event's hash and link; name the first bad event."""
    from physioez.core.kernel.audit import verify_chain

    _boot()
    result = verify_chain()
    if result.ok:
        click.echo(f"OK: {result.checked} events, chain intact.")
        return
    bad = result.first_break
    click.echo(
        f"BROKEN at event #{bad.seq} ({bad.event_id}): {bad.reason}. "
        f"{result.checked} events before it verify.",
        err=True,
    )
    sys.exit(1)


@audit.command("history")
@click.argument("entity")
@click.argument("entity_id")
@click.option("--at", "at_text", help="ISO time, e.g. 2026-11-23T10:00Z (default: now).")
def audit_history(entity: str, entity_id: str, at_text: str | None) -> None:
    """Print ENTITY ENTITY_ID as it was at a moment, rebuilt from the audit log."""
    import json

    from physioez.core.kernel.audit import state_at

    _boot()
    at = datetime.now(UTC)
    if at_text:
        try:
            at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(
                "use ISO 8601, e.g. 2026-11-23T10:00Z", param_hint="--at"
            ) from None
        if at.tzinfo is None:
            raise click.BadParameter(
                "add a UTC offset or Z, e.g. 2026-11-23T10:00Z", param_hint="--at"
            )
    state = state_at(entity, entity_id, at)
    if state.state is None:
        raise click.ClickException(f"{entity} {entity_id} did not exist at {at.isoformat()}.")
    click.echo(
        json.dumps(
            {
                "entity": entity,
                "id": entity_id,
                "at": at.isoformat(),
                "deleted": not state.exists,
                "as_of_event": state.as_of_event,
                "state": state.state,
            },
            indent=2,
            sort_keys=True,
        )
    )


@main.group()
def keys() -> None:
    """Manage the encryption keys."""


@keys.command("init")
def keys_init() -> None:
    """Create the key-encryption key file if missing (first boot; run as root)."""
    from physioez.core.platform.crypto import CryptoError, load_or_create_kek

    settings = _settings()
    existed = settings.paths.key_file.exists()
    try:
        load_or_create_kek(settings.paths.key_file)
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from None
    state = "already there" if existed else "created (mode 0600)"
    click.echo(f"Key file {settings.paths.key_file} {state}. Back it up apart from the data.")


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new key-encryption key and re-wrap every data key with it."""
    from physioez.core.platform.crypto import CryptoError
    from physioez.core.platform.keys import rotate_key_encryption_key

    settings = _boot()
    try:
        count = rotate_key_encryption_key(settings.paths.key_file)
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Key file {settings.paths.key_file} replaced; {count} data keys re-wrapped.")
    click.echo("Back up the new key file now: old backups of it no longer open this database.")


@main.group(invoke_without_command=True)
@click.pass_context
def printers(ctx: click.Context) -> None:
    """List the printers of the configured CUPS server and mark the ones PhysioEZ uses."""
    if ctx.invoked_subcommand is not None:
        return
    from physioez.core.platform.printing import PrintingError, list_printers

    config = _settings().printing
    click.echo(f"CUPS server: {config.cups_server or 'this box (local CUPS)'}")
    try:
        found = list_printers(config.cups_server or None)
    except PrintingError as exc:
        raise click.ClickException(f"{exc.message} ({exc.detail})") from None
    uses = {
        config.receipt_printer: "receipt printer",
        config.invoice_printer: "invoice printer",
    }
    if config.receipt_printer == config.invoice_printer:
        uses[config.receipt_printer] = "receipt and invoice printer"
    if not found:
        click.echo("No printers are set up on this CUPS server.")
    for printer in found:
        use = uses.get(printer.name, "")
        state = printer.state if printer.accepting else f"{printer.state}, rejecting jobs"
        line = f"{'*' if use else ' '} {printer.name:<28} {state:<24} {printer.description}"
        if use:
            line += f"  [{use}]"
        click.echo(line.rstrip())
        if printer.message:
            click.echo(f"    says: {printer.message}")
    names = {printer.name: printer for printer in found}
    problems = 0
    for setting, name, use in (
        ("printing.receipt_printer", config.receipt_printer, "receipts"),
        ("printing.invoice_printer", config.invoice_printer, "invoices"),
    ):
        if not name:
            click.echo(f"{setting} is empty: {use} print from the browser.")
        elif name not in names:
            problems += 1
            click.echo(f"{setting} names '{name}', which this CUPS server does not have.")
        elif not names[name].ready:
            problems += 1
            click.echo(f"{setting} '{name}' cannot print now ({names[name].state}).")
    if problems:
        # A non-zero exit lets a monitoring script notice a printer that needs attention.
        sys.exit(1)


@printers.command("test-page")
@click.option(
    "--printer",
    "name",
    help="CUPS queue name (default: the receipt printer, else the invoice printer).",
)
@click.option(
    "--timeout", default=60, show_default=True, help="Seconds to wait for the page to come out."
)
def printers_test_page(name: str | None, timeout: int) -> None:
    """Print a small test page with the branch and the time, and wait until it is printed."""
    from physioez.core.platform.printing import PrintingError, print_pdf, render_pdf, wait_for_job

    settings = _settings()
    config = settings.printing
    name = name or config.receipt_printer or config.invoice_printer
    if not name:
        raise click.ClickException(
            "No printer is configured (printing.receipt_printer, printing.invoice_printer); "
            "name one with --printer (see 'physioez printers')."
        )
    if name == config.receipt_printer:
        kind, paper = "receipt printer", config.receipt_paper
    else:
        kind = "invoice printer" if name == config.invoice_printer else "printer"
        paper = "a4"
    server = config.cups_server or None
    try:
        pdf = render_pdf(_test_page_html(settings, name, paper), paper=paper)
        job = print_pdf(
            pdf,
            printer=name,
            title=f"PhysioEZ test page {settings.branch.id}",
            server=server,
            kind=kind,
        )
        click.echo(f"Job {job} sent to '{name}' on {paper} paper; waiting for it to print ...")
        wait_for_job(job, timeout, server=server, kind=kind)
    except PrintingError as exc:
        raise click.ClickException(f"{exc.message} ({exc.detail})") from None
    click.echo("Printed.")


def _test_page_html(settings: Settings, printer: str, paper: str) -> str:
    from html import escape
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo(settings.branch.timezone))
    rows = (
        ("Branch", f"{settings.branch.name} ({settings.branch.id})"),
        ("Printed at", now.strftime("%d %b %Y %H:%M:%S %Z")),
        ("Printer", printer),
        ("Paper", paper),
        ("CUPS server", settings.printing.cups_server or "this box"),
        ("PhysioEZ", __version__),
    )
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    # The sample amount checks that the rupee sign prints (it needs a font that has it).
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font-family: sans-serif; font-size: 10pt; margin: 0; }}
h1 {{ font-size: 13pt; margin: 0 0 3mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ text-align: left; padding-right: 3mm; white-space: nowrap; vertical-align: top; }}
p {{ margin: 3mm 0 0; }}
</style></head><body>
<h1>PhysioEZ test page</h1>
<table>{cells}</table>
<p>Sample amount: ₹1,25,000.00</p>
<p>If you can read this, PhysioEZ can print here.</p>
</body></html>"""


# --- replication to head office ----------------------------------------------------------------


@main.group("sync")
def sync_group() -> None:
    """Replication to head office: keys, status, digests."""


@sync_group.command("keys")
def sync_keys() -> None:
    """Print this branch's public signing key, for head office's registry."""
    from physioez.sync import envelope, runtime

    settings = _settings()
    key = runtime.branch_signing_key(settings.paths.data_dir)
    verify = envelope.encode_key(key.verify_key)
    box = envelope.encode_key(envelope.derived_box_key(bytes(key)).public_key)
    click.echo(f"branch {settings.branch.id}")
    click.echo(f"verify key {verify}")
    click.echo(f"box key {box}")
    click.echo(f"At head office: physioez sync register-branch {settings.branch.id} {verify} {box}")


@sync_group.command("status")
def sync_status() -> None:
    """How far head office has acknowledged this branch's changes."""
    from physioez.sync import state

    _boot()
    acked, last = state.acked_seq(), state.last_seq()
    click.echo(f"outbox last seq {last}; head office has acknowledged up to {acked}")
    click.echo(f"waiting to be acknowledged: {last - acked} changes")


@sync_group.command("hq-key")
def sync_hq_key() -> None:
    """(Head office) print the public key every branch seals its batches to."""
    from physioez.sync import envelope, runtime

    settings = _settings()
    key = runtime.hq_private_key(settings.hq.private_key_file)
    click.echo(f"hq_public_key = {envelope.encode_key(key.public_key)}")
    signing = envelope.derived_signing_key(bytes(key))
    click.echo(f"hq_verify_key = {envelope.encode_key(signing.verify_key)}")


@sync_group.command("register-branch")
@click.argument("branch")
@click.argument("verify_key")
@click.argument("box_key", required=False, default="")
def sync_register_branch(branch: str, verify_key: str, box_key: str) -> None:
    """(Head office) accept batches from BRANCH signed with VERIFY_KEY; send it head office's
    changes sealed to BOX_KEY."""
    from physioez.sync import envelope, hq_store, runtime

    settings = _settings()
    try:
        envelope.verify_key(verify_key)
    except Exception:
        raise click.ClickException("That is not a verify key (copy it from 'sync keys').") from None
    connection = _hq_connection(settings, runtime)
    _create_hq_schema(connection)
    hq_store.register_branch(connection, branch, verify_key, box_key)
    click.echo(f"Branch {branch} registered.")


@sync_group.command("verify")
@click.option("--branch", help="Branch to compare (default: this branch).")
def sync_verify(branch: str | None) -> None:
    """Compare this branch's per-table digests with head office's; exit 1 on a difference."""
    from physioez.sync import hq_store, runtime, state

    settings = _boot()
    ours = state.branch_digests()
    theirs = hq_store.hq_digests(_hq_connection(settings, runtime), branch or settings.branch.id)
    differ = False
    for table in sorted(set(ours) | set(theirs)):
        mine, hq = ours.get(table), theirs.get(table)
        same = mine == hq
        differ |= not same
        click.echo(
            f"{'same' if same else 'DIFF'}  {table:24} branch {mine.count if mine else 0:>7}"
            f"  head office {hq.count if hq else 0:>7}"
        )
    if differ:
        raise SystemExit(1)


@sync_group.command("conflicts")
def sync_conflicts() -> None:
    """(Head office) list open conflicts between branches' edits of shared records."""
    from physioez.sync import hq_store, runtime

    settings = _settings()
    found = hq_store.open_conflicts(_hq_connection(settings, runtime))
    if not found:
        click.echo("No open conflicts.")
    for conflict in found:
        click.echo(
            f"#{conflict['id']}  {conflict['table']} {conflict['key']}  "
            f"({conflict['detected_at']:%Y-%m-%d %H:%M} UTC)"
        )
        for name in conflict["fields"]:
            click.echo(
                f"    {name}: kept {conflict['winner_values'][name]!r} from {conflict['winner']}, "
                f"replaced {conflict['loser_values'][name]!r} from {conflict['loser']}"
            )
    if found:
        click.echo("'physioez sync reverse ID' brings a replaced value back everywhere.")


@sync_group.command("set-policy")
@click.argument("name")
@click.argument("value")
def sync_set_policy(name: str, value: str) -> None:
    """(Head office) set chain policy NAME to VALUE on every branch, in place of the
    branch's own setting. VALUE is JSON: '{"receptionist": 5, "owner": 100}', 12, true,
    '["id", "consent_form"]'."""
    _send_policy(name, value, cleared=False)


@sync_group.command("clear-policy")
@click.argument("name")
def sync_clear_policy(name: str) -> None:
    """(Head office) withdraw chain policy NAME: each branch's own setting applies again."""
    _send_policy(name, None, cleared=True)


def _send_policy(name: str, value: str | None, *, cleared: bool) -> None:
    import json

    from physioez.core.kernel import policies
    from physioez.core.kernel.clock import HybridLogicalClock
    from physioez.core.kernel.models import format_utc, utcnow
    from physioez.sync import hq_store, runtime

    settings = _settings()
    checked = None
    try:
        if cleared:
            policies.require_known(name)
        else:
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value  # plain text, for a text setting
            checked = policies.check(name, parsed, settings)
    except policies.PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    stamp = HybridLogicalClock("HQ").now().encode()
    row = policies.policy_row(name, checked, stamp, format_utc(utcnow()), cleared=cleared)
    hq_store.enqueue_down(
        _hq_connection(settings, runtime),
        table="chain_policy",
        key=row["id"],
        row=row,
        hlc=stamp,
        operation="delete" if cleared else "update",
    )
    if cleared:
        click.echo(f"{name} withdrawn; each branch uses its own setting from its next pull.")
    else:
        click.echo(f"{name} = {json.dumps(checked)} sent; branches apply it at their next pull.")


@sync_group.command("reverse")
@click.argument("conflict_id", type=int)
def sync_reverse(conflict_id: int) -> None:
    """(Head office) bring back the replaced values of conflict CONFLICT_ID, everywhere."""
    from physioez.core.kernel.clock import HybridLogicalClock
    from physioez.sync import hq_store, runtime

    settings = _settings()
    stamp = HybridLogicalClock("HQ").now().encode()
    try:
        hq_store.reverse_conflict(_hq_connection(settings, runtime), conflict_id, stamp)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Conflict {conflict_id} reversed; the branches receive it at their next pull.")


def _create_hq_schema(connection) -> None:
    """Head office's tables, with one per entity of every module (their models loaded)."""
    import physioez.app  # noqa: F401 - imports every module's models
    from physioez.sync import hq_store

    hq_store.create_schema(connection)


def _hq_connection(settings: Settings, runtime):
    try:
        return runtime.hq_mysql(settings).connect()
    except runtime.SyncConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"Cannot reach head office's MySQL: {exc}") from None


@main.command("hq-ingest")
@click.option("--instance", default="", help="Name of this instance (default: host and pid).")
def hq_ingest(instance: str) -> None:
    """(Head office) apply every branch's batches to MySQL until stopped (Ctrl+C, SIGTERM)."""
    import contextlib
    import os
    import signal
    import socket
    import threading

    from physioez.sync import runtime
    from physioez.sync.ingest import HqIngest

    settings = _settings()
    try:
        mysql = runtime.hq_mysql(settings)
        broker = runtime.hq_broker(settings)
    except runtime.SyncConfigError as exc:
        raise click.ClickException(str(exc)) from None
    connection = _hq_connection(settings, runtime)
    _create_hq_schema(connection)
    connection.close()
    name = instance or f"{socket.gethostname()}-{os.getpid()}"
    ingest = HqIngest(
        instance=name,
        hq_private_key=runtime.hq_private_key(settings.hq.private_key_file),
        broker=broker,
        mysql=mysql,
        max_batch_bytes=settings.hq.max_batch_mb * 1024 * 1024,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    ingest.start()
    click.echo(f"hq-ingest {name} running; Ctrl+C stops it", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    ingest.stop()
