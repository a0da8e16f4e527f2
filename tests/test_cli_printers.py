"""``physioez printers``: what the IT person runs to see and check the clinic's printers."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner

from physioez.cli import main
from tests.cups_support import CupsServer, free_port, page_size_pt, pdftotext


@pytest.fixture
def configure(tmp_path, monkeypatch):
    def write(**printing: str) -> None:
        config = tmp_path / "physioez.toml"
        lines = "".join(f'{key} = "{value}"\n' for key, value in printing.items())
        config.write_text(
            f'[branch]\nid = "KRM1"\nname = "Koramangala"\n[paths]\n'
            f'data_dir = "{tmp_path / "data"}"\nkey_file = "{tmp_path / "keys" / "kek"}"\n'
            f"[printing]\n{lines}"
        )
        monkeypatch.setenv("PHYSIOEZ_CONFIG", str(config))

    return write


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_printers_lists_states_and_marks_the_configured_ones(cups_server: CupsServer, configure):
    receipt = cups_server.add_pdf_printer("Front desk")
    invoice = cups_server.add_pdf_printer("Back office")
    spare = cups_server.add_pdf_printer("Spare")
    subprocess.run(["cupsreject", "-h", cups_server.server, spare], check=True, timeout=30)
    configure(cups_server=cups_server.server, receipt_printer=receipt, invoice_printer=invoice)
    result = run("printers")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"CUPS server: {cups_server.server}"
    line_of = {name: next(line for line in lines if name in line) for name in (receipt, invoice)}
    assert line_of[receipt].startswith("*") and "[receipt printer]" in line_of[receipt]
    assert "idle" in line_of[receipt] and "Front desk" in line_of[receipt]
    assert "[invoice printer]" in line_of[invoice]
    spare_line = next(line for line in lines if spare in line)
    assert spare_line.startswith(" ") and "rejecting jobs" in spare_line

    configure(cups_server=cups_server.server, receipt_printer="Gone", invoice_printer=spare)
    result = run("printers")
    assert result.exit_code == 1
    assert "printing.receipt_printer names 'Gone', which this CUPS server does not have" in (
        result.output
    )
    assert f"printing.invoice_printer '{spare}' cannot print now" in result.output


def test_printers_says_what_to_do_when_cups_does_not_answer(configure):
    configure(cups_server=f"127.0.0.1:{free_port()}", receipt_printer="Front")
    result = CliRunner().invoke(main, ["printers"])
    assert result.exit_code == 1
    assert "not answering" in result.output and "Print in the browser" in result.output


@pytest.mark.slow
def test_test_page_prints_branch_and_time_on_the_receipt_printer(
    cups_server: CupsServer, configure
):
    receipt = cups_server.add_pdf_printer("Front desk")
    configure(cups_server=cups_server.server, receipt_printer=receipt)
    result = run("printers", "test-page")
    assert result.exit_code == 0, result.output
    assert f"sent to '{receipt}' on receipt80 paper" in result.output
    assert result.output.rstrip().endswith("Printed.")
    printed = cups_server.wait_for_output()
    assert page_size_pt(printed)[0] == pytest.approx(80 * 72 / 25.4, abs=1.5)
    text = pdftotext(printed)
    assert "PhysioEZ test page" in text and "Koramangala (KRM1)" in text
    assert "Printed at" in text
    assert receipt in "".join(text.split())  # long names wrap on 72 mm


@pytest.mark.slow
def test_test_page_to_a_named_printer_on_a4(cups_server: CupsServer, configure):
    receipt = cups_server.add_pdf_printer("Front desk")
    office = cups_server.add_pdf_printer("Office laser")
    configure(cups_server=cups_server.server, receipt_printer=receipt)
    result = run("printers", "test-page", "--printer", office)
    assert result.exit_code == 0, result.output
    assert f"sent to '{office}' on a4 paper" in result.output
    printed = cups_server.wait_for_output()
    assert page_size_pt(printed) == (pytest.approx(595, abs=1.5), pytest.approx(842, abs=1.5))
    assert office in "".join(pdftotext(printed).split())

    result = CliRunner().invoke(main, ["printers", "test-page", "--printer", "Nope"])
    assert result.exit_code == 1 and "'Nope' is not set up on this box" in result.output


def test_test_page_without_any_printer_says_how_to_choose_one(configure):
    configure()
    result = CliRunner().invoke(main, ["printers", "test-page"])
    assert result.exit_code == 1 and "--printer" in result.output
