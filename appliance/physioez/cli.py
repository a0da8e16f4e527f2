"""The ``physioez`` command: serve, migrate, create-admin, seed-demo, audit, keys, printers,
and each installed module's own commands (``Module(cli=...)``)."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime

import click

from physioez import __version__, installed
from physioez.commands import boot_for_command, load_command_settings
from physioez.core.kernel.settings import Settings


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

    settings = load_command_settings()
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

            from physioez.app import create_app, module_jobs
            from physioez.core.platform.scheduler import start_scheduler

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
            # Long-running services of the modules (replication), in the serving worker.
            for module in installed.modules():
                serve_module = module.resolve("serve")
                if serve_module is not None:
                    serve_module(app, settings, scheduler)
            return app

    click.echo(f"PhysioEZ {__version__} serving on http://{bind}/", err=True)
    Appliance().run()


@main.command()
def migrate() -> None:
    """Apply pending database migrations (also done at every start)."""
    from physioez.app import all_migrations
    from physioez.core.kernel.db import migrate as run
    from physioez.core.kernel.db import migration_status, open_database

    settings = load_command_settings()
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
    from physioez.admin.services.staff import create_staff
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.errors import ServiceError

    settings = boot_for_command()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise click.ClickException("The two passwords differ.")
    try:
        staff = create_staff(
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
    """Add demo accounts, then each installed module's demo data (evaluation boxes)."""
    from zoneinfo import ZoneInfo

    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.db import write_transaction

    try:
        from physioez.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
        from physioez.demo import seed_demo as seed_accounts
    except ImportError as exc:
        raise click.ClickException(
            f"Demo data needs the [demo] extra ({exc.name} is missing): "
            "pip install 'physioez[demo]', or run 'make run'."
        ) from None
    settings = boot_for_command()
    created = seed_accounts(settings.auth.password_min_length)
    click.echo(f"{len(created)} demo accounts created.")
    today = datetime.now(ZoneInfo(settings.branch.timezone)).date()
    actor = Actor.system("cli:seed-demo")
    click.echo("Filling each module with demo data (four weeks of book, billing) ...")
    # One transaction: attended sessions reach billing dated on their own days, before any
    # attendance event (delivered after the commit) could file them under today.
    with write_transaction():
        for module in installed.modules():
            seed = module.resolve("demo")
            if seed is not None:
                click.echo(f"  {module.name}: {seed(actor, today, settings)}")
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

    boot_for_command()
    result = verify_chain()
    if result.ok:
        click.echo(f"OK: {result.checked} events, chain intact.")
        return
    bad = result.first_break
    assert bad is not None  # a chain that is not ok has a first break
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

    boot_for_command()
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

    settings = load_command_settings()
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

    settings = boot_for_command()
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

    config = load_command_settings().printing
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

    settings = load_command_settings()
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


def _add_module_commands() -> None:
    for module in installed.modules():
        command = module.resolve("cli")
        if command is not None:
            main.add_command(command)


_add_module_commands()
