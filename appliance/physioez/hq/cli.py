"""The ``physioez-hq`` command: head office's key, branch registry, ingest, conflicts and
chain policies. It reads the same kind of config file as a branch, with an ``[hq]`` section."""

from __future__ import annotations

import click

from physioez import __version__
from physioez.commands import boot_for_command, load_command_settings
from physioez.core.kernel.settings import Settings
from physioez.hq import apply, digests, outbox, runtime, store


@click.group()
@click.version_option(__version__, prog_name="physioez-hq")
def main() -> None:
    """PhysioEZ head office."""


@main.command("key")
def hq_key() -> None:
    """print the public key every branch seals its batches to."""
    from physioez.sync.services import envelope

    settings = load_command_settings()
    key = runtime.hq_private_key(settings.hq.private_key_file)
    click.echo(f"hq_public_key = {envelope.encode_key(key.public_key)}")
    signing = envelope.derived_signing_key(bytes(key))
    click.echo(f"hq_verify_key = {envelope.encode_key(signing.verify_key)}")


@main.command("register-branch")
@click.argument("branch")
@click.argument("verify_key")
@click.argument("box_key", required=False, default="")
def register_branch(branch: str, verify_key: str, box_key: str) -> None:
    """accept batches from BRANCH signed with VERIFY_KEY; send it head office's
    changes sealed to BOX_KEY."""
    from physioez.sync.services import envelope

    settings = load_command_settings()
    try:
        envelope.verify_key(verify_key)
    except Exception:
        raise click.ClickException("That is not a verify key (copy it from 'sync keys').") from None
    connection = _connection(settings)
    _create_hq_schema(connection)
    store.register_branch(connection, branch, verify_key, box_key)
    click.echo(f"Branch {branch} registered.")


@main.command("verify")
@click.option("--branch", help="Branch to compare (default: this branch).")
def verify(branch: str | None) -> None:
    """Compare this branch's per-table digests with head office's; exit 1 on a difference."""
    from physioez.sync.services import state

    settings = boot_for_command()
    ours = state.branch_digests()
    theirs = digests.hq_digests(_connection(settings), branch or settings.branch.id)
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


@main.command("conflicts")
def conflicts() -> None:
    """list open conflicts between branches' edits of shared records."""

    settings = load_command_settings()
    found = apply.open_conflicts(_connection(settings))
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
        click.echo("'physioez-hq reverse ID' brings a replaced value back everywhere.")


@main.command("set-policy")
@click.argument("name")
@click.argument("value")
def set_policy(name: str, value: str) -> None:
    """set chain policy NAME to VALUE on every branch, in place of the
    branch's own setting. VALUE is JSON: '{"receptionist": 5, "owner": 100}', 12, true,
    '["id", "consent_form"]'."""
    _send_policy(name, value, cleared=False)


@main.command("clear-policy")
@click.argument("name")
def clear_policy(name: str) -> None:
    """withdraw chain policy NAME: each branch's own setting applies again."""
    _send_policy(name, None, cleared=True)


def _send_policy(name: str, value: str | None, *, cleared: bool) -> None:
    import json

    from physioez.core.kernel import policies
    from physioez.core.kernel.clock import HybridLogicalClock
    from physioez.core.kernel.models import format_utc, utcnow

    settings = load_command_settings()
    checked = None
    try:
        if cleared or value is None:
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
    outbox.enqueue_down(
        _connection(settings),
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


@main.command("reverse")
@click.argument("conflict_id", type=int)
def reverse(conflict_id: int) -> None:
    """bring back the replaced values of conflict CONFLICT_ID, everywhere."""
    from physioez.core.kernel.clock import HybridLogicalClock

    settings = load_command_settings()
    stamp = HybridLogicalClock("HQ").now().encode()
    try:
        apply.reverse_conflict(_connection(settings), conflict_id, stamp)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Conflict {conflict_id} reversed; the branches receive it at their next pull.")


def _create_hq_schema(connection) -> None:
    """Head office's tables, with one per entity of every module (their models loaded)."""
    from physioez import installed

    installed.load_models()

    store.create_schema(connection)


def _connection(settings: Settings):
    try:
        return runtime.hq_mysql(settings).connect()
    except runtime.SyncConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"Cannot reach head office's MySQL: {exc}") from None


@main.command("ingest")
@click.option("--instance", default="", help="Name of this instance (default: host and pid).")
def ingest(instance: str) -> None:
    """apply every branch's batches to MySQL until stopped (Ctrl+C, SIGTERM)."""
    import contextlib
    import os
    import signal
    import socket
    import threading

    from physioez.hq.ingest import HqIngest

    settings = load_command_settings()
    try:
        mysql = runtime.hq_mysql(settings)
        broker = runtime.hq_broker(settings)
    except runtime.SyncConfigError as exc:
        raise click.ClickException(str(exc)) from None
    connection = _connection(settings)
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
