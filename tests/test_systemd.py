"""The shipped systemd units parse, and keep the hardening the appliance relies on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "systemd"


def test_units_pass_systemd_analyze(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/physioez/.venv/bin/physioez", "/bin/true")
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_service_keeps_one_process_and_hardening():
    unit = (UNITS / "physioez.service").read_text()
    for line in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "LoadCredential=physioez-kek:",
        "Requires=physioez-keys.service",
    ):
        assert line in unit
    assert "ExecStart=/opt/physioez/.venv/bin/physioez serve" in unit
