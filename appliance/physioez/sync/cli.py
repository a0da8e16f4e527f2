"""``physioez sync``: this branch's replication keys and status."""

from __future__ import annotations

import click

from physioez.commands import boot_for_command, load_command_settings


@click.group("sync")
def sync_group() -> None:
    """Replication to head office: keys and status."""


@sync_group.command("keys")
def sync_keys() -> None:
    """Print this branch's public signing key, for head office's registry."""
    from physioez.sync.services import envelope, runtime

    settings = load_command_settings()
    key = runtime.branch_signing_key(settings.paths.data_dir)
    verify = envelope.encode_key(key.verify_key)
    box = envelope.encode_key(envelope.derived_box_key(bytes(key)).public_key)
    click.echo(f"branch {settings.branch.id}")
    click.echo(f"verify key {verify}")
    click.echo(f"box key {box}")
    click.echo(f"At head office: physioez-hq register-branch {settings.branch.id} {verify} {box}")


@sync_group.command("status")
def sync_status() -> None:
    """How far head office has acknowledged this branch's changes."""
    from physioez.sync.services import state

    boot_for_command()
    acked, last = state.acked_seq(), state.last_seq()
    click.echo(f"outbox last seq {last}; head office has acknowledged up to {acked}")
    click.echo(f"waiting to be acknowledged: {last - acked} changes")
