"""Helpers shared by bench/booking.py and bench/dataset.py.

The server and client plumbing comes from ``http_bench`` (imported, never changed): a real
``physioez serve`` on a free loopback port, keep-alive ``http.client`` clients signed in
through the form as ``owner`` / ``physioez-demo``. What is added here: a config writer that
takes any data directory, a way to run a set-up step through the app's own code in a
subprocess (before the server starts), and a level runner that takes any request callable
and reads the server's own time for any path prefix from its JSON access log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from http_bench import (
    HOST,
    PASSWORD,
    USERNAME,
    BenchError,
    Client,
    Response,
    Run,
    Server,
    free_port,
    machine_info,
    percentile,
    physioez_command,
    print_line,
    run_level,
    server_times,
    summarise,
    write_report,
)

__all__ = [
    "HOST",
    "MAX_CLIENTS",
    "MAX_REQUESTS",
    "PASSWORD",
    "USERNAME",
    "BenchError",
    "Client",
    "Response",
    "Run",
    "Server",
    "bench_env",
    "check_levels",
    "free_port",
    "goal_line",
    "machine_info",
    "machine_load",
    "percentile",
    "physioez_command",
    "print_line",
    "run_level",
    "run_setup",
    "server_times",
    "start_server",
    "summarise",
    "write_config",
    "write_report",
]

MAX_REQUESTS = 100_000
MAX_CLIENTS = 64


def write_config(
    path: Path,
    *,
    port: int,
    data_dir: Path,
    key_file: Path,
    branch: str,
    written_by: str,
) -> Path:
    """A TOML config: loopback only, access log on, the production argon2id cost."""
    path.write_text(
        "\n".join(
            [
                f"# Written by {written_by}; deleted with its temp dir.",
                "[branch]",
                f'id = "{branch}"',
                'timezone = "Asia/Kolkata"',
                "",
                "[paths]",
                f"data_dir = {json.dumps(str(data_dir))}",
                f"key_file = {json.dumps(str(key_file))}",
                "",
                "[server]",
                f'host = "{HOST}"',
                f"port = {port}",
                "access_log = true",
                "",
                "[auth]",
                'hash_profile = "interactive"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def bench_env(config: Path) -> dict[str, str]:
    """The caller's environment without any PHYSIOEZ_* override, pointing at ``config``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYSIOEZ_")}
    env["PHYSIOEZ_CONFIG"] = str(config)
    return env


def run_setup(script: Path, args: Sequence[str], env: dict[str, str], timeout_s: float) -> dict:
    """Run ``script`` with this interpreter (the venv's) as a set-up step; return its JSON.

    The step prints one JSON object as its last line of standard output.
    """
    try:
        done = subprocess.run(
            [sys.executable, str(script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"set-up took longer than {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise BenchError(f"set-up failed ({done.returncode}): {done.stderr[-1500:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise BenchError(f"set-up printed no JSON result: {done.stdout[-500:]!r}") from None


def start_server(server: Server) -> dict:
    try:
        return server.start()
    except BenchError as exc:
        raise BenchError(f"{exc}\n--- server log ---\n{server.log_tail()}") from None


def goal_line(label: str, value: float | None, limit: float, unit: str, higher: bool) -> dict:
    """Print and return one goal check: PASS when ``value`` is within ``limit``."""
    if value is None:
        verdict = "MISS"
    else:
        verdict = "PASS" if (value >= limit if higher else value <= limit) else "MISS"
    sign = ">=" if higher else "<="
    shown = "-" if value is None else f"{value:.2f}"
    print(f"  {verdict}  {label}: {shown} {unit} (goal {sign} {limit:g} {unit})", flush=True)
    return {"goal": label, "value": value, "limit": limit, "unit": unit, "verdict": verdict}


def machine_load() -> dict:
    """Load averages and CPU count, to judge figures from a shared machine."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return {"cpu_count": os.cpu_count()}
    return {
        "cpu_count": os.cpu_count(),
        "loadavg_1_5_15": [round(one, 2), round(five, 2), round(fifteen, 2)],
    }


def check_levels(text: str) -> list[int]:
    levels = sorted({int(part) for part in text.split(",") if part.strip()})
    if not levels or levels[0] < 1 or levels[-1] > MAX_CLIENTS:
        raise ValueError(f"levels must be between 1 and {MAX_CLIENTS}")
    return levels
