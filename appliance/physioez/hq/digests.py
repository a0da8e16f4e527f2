"""Head office's side of anti-entropy: the same per-table and per-month digests a branch
computes, over what head office holds of that branch's records."""

from __future__ import annotations

from physioez.sync.services import state


def _branch_records(cursor, branch: str):
    """(table, key, record hash) of everything ``branch`` sent: its own records as held, and
    what it last sent of each shared record."""
    cursor.execute(
        "SELECT table_name, row_key, row_json FROM replicated_row WHERE branch_id = %s",
        (branch,),
    )
    for table, key, row_json in cursor.fetchall():
        yield table, key, state.record_hash(row_json)
    cursor.execute(
        "SELECT table_name, row_key, row_hash FROM shared_received WHERE branch_id = %s",
        (branch,),
    )
    yield from cursor.fetchall()


def hq_digests(connection, branch: str) -> dict[str, state.TableDigest]:
    """The same per-table digests as the branch computes, over what head office holds."""
    by_table: dict[str, list[tuple[str, str]]] = {}
    with connection.cursor() as cursor:
        for table, key, hashed in _branch_records(cursor, branch):
            by_table.setdefault(table, []).append((key, hashed))
    connection.commit()
    digests = {}
    for table, pairs in by_table.items():
        count, digest = state.fold(pairs)
        digests[table] = state.TableDigest(table, count, digest)
    return digests


def hq_buckets(connection, branch: str) -> state.Buckets:
    """Head office's per-table, per-month digests of one branch's records."""
    with connection.cursor() as cursor:
        records = list(_branch_records(cursor, branch))
    connection.commit()
    return state.fold_buckets(records)
