"""Printing: receipts and A4 pages rendered to PDF, printed through a real CUPS server.

The PDFs are read back with Poppler's pdfinfo and pdftotext (poppler-utils), so what is
checked is what a printer would get, not what our code believes it made.
"""

from __future__ import annotations

import http.server
import logging
import re
import subprocess
import threading
from pathlib import Path

import cups
import pytest

from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.platform import printing
from physioez.core.platform.printing import PrintingError, page_size_mm, print_pdf, render_pdf
from tests.cups_support import (
    CupsServer,
    free_port,
    page_size_pt,
    pdfinfo,
    pdftotext,
    poppler,
)

PT_PER_MM = 72 / 25.4


def receipt_html(lines: int = 4, head: str = "") -> str:
    items = "".join(
        f"<tr><td>Physiotherapy session {n}</td><td class='amt'>₹250.00</td></tr>"
        for n in range(1, lines + 1)
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8">{head}
<style>
  body {{ font-family: sans-serif; font-size: 10pt; margin: 0; }}
  h1 {{ font-size: 12pt; text-align: center; margin: 0 0 2mm; }}
  table {{ width: 100%; border-collapse: collapse; }}
  .amt {{ text-align: right; }}
</style></head>
<body>
  <h1>PhysioEZ Clinic</h1>
  <p>Receipt RCP-2026-000042</p>
  <table>{items}</table>
  <p class="total">Total ₹1,250.00</p>
</body></html>"""


def word_boxes(path: Path) -> list[tuple[float, float, float, float]]:
    """(xMin, yMin, xMax, yMax) of every word, in points from the top left of the page."""
    html = subprocess.run(
        [poppler("pdftotext"), "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [
        tuple(float(v) for v in match)
        for match in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', html
        )
    ]


def write(tmp_path: Path, name: str, pdf: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


# --- rendering -----------------------------------------------------------------------


def test_receipt_is_80mm_wide_one_page_as_tall_as_its_content(tmp_path):
    short = write(tmp_path, "short.pdf", render_pdf(receipt_html(2), paper="receipt80"))
    long = write(tmp_path, "long.pdf", render_pdf(receipt_html(40), paper="receipt80"))
    for path in (short, long):
        assert pdfinfo(path)["Pages"] == "1"
        width, _ = page_size_pt(path)
        assert width == pytest.approx(80 * PT_PER_MM, abs=0.5)
    short_h, long_h = page_size_pt(short)[1], page_size_pt(long)[1]
    # 38 more table rows of 10 pt type: at least 38 lines more paper, and no blank A4 tail.
    assert long_h - short_h > 38 * 10
    # A short receipt gets the shortest page that is still taller than wide (81 mm).
    assert short_h == pytest.approx(81 * PT_PER_MM, abs=0.5)
    text = pdftotext(short)
    assert "RCP-2026-000042" in text and "₹1,250.00" in text
    # Nothing cut off: the last line is on the (single) page.
    assert "Physiotherapy session 40" in pdftotext(long)


def test_receipt_page_ends_close_below_the_last_line(tmp_path):
    path = write(tmp_path, "r.pdf", render_pdf(receipt_html(12), paper="receipt80"))
    _, height = page_size_pt(path)
    assert height > 81 * PT_PER_MM  # longer than the shortest receipt page
    last_word_bottom = max(box[3] for box in word_boxes(path))
    # The bottom margin (4 mm) plus the last paragraph's margin (about 1 em), not more.
    assert 4 * PT_PER_MM <= height - last_word_bottom <= 4 * PT_PER_MM + 20


def test_a4_is_a4_with_margins(tmp_path):
    path = write(tmp_path, "a4.pdf", render_pdf(receipt_html(), paper="a4"))
    width, height = page_size_pt(path)
    assert (width, height) == (pytest.approx(595.3, abs=0.5), pytest.approx(841.9, abs=0.5))
    first_left = min(box[0] for box in word_boxes(path))
    assert first_left >= 15 * PT_PER_MM - 1
    text = pdftotext(path)
    assert "RCP-2026-000042" in text and "₹1,250.00" in text


def test_a_template_cannot_change_the_paper(tmp_path):
    html = receipt_html(head="<style>@page { size: A3 landscape; margin: 0 }</style>")
    path = write(tmp_path, "r.pdf", render_pdf(html, paper="receipt80"))
    assert page_size_pt(path)[0] == pytest.approx(80 * PT_PER_MM, abs=0.5)


def test_page_size_mm_reads_weasyprint_output():
    assert page_size_mm(render_pdf(receipt_html(), paper="a4")) == (210.0, 297.0)
    width, height = page_size_mm(render_pdf(receipt_html(), paper="receipt80"))
    assert width == 80.0 and 40 < height < 120
    assert page_size_mm(b"%PDF-1.7 not really") is None


def test_unknown_paper_is_refused():
    with pytest.raises(InvalidInput, match="receipt80"):
        render_pdf("<p>x</p>", paper="letter")


class CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        CountingHandler.hits.append(self.path)
        body = b"p { font-size: 80pt }" if self.path.endswith(".css") else b""
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_remote_urls_are_never_fetched(tmp_path, caplog):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    CountingHandler.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    head = (
        f'<link rel="stylesheet" href="{base}/print.css">'
        f"<style>@import url({base}/imported.css); body {{ background: url({base}/bg.png) }}"
        "</style>"
    )
    html = receipt_html(head=head) + f'<img src="{base}/logo.png">'
    try:
        with caplog.at_level(logging.WARNING, logger="weasyprint"):
            pdf = render_pdf(html, paper="receipt80")
            render_pdf(html, paper="a4", base_url=base + "/")
    finally:
        server.shutdown()
        server.server_close()
    assert CountingHandler.hits == []
    assert base in caplog.text  # refused with a note in the log, not silently
    plain = render_pdf(receipt_html(), paper="receipt80")
    assert page_size_mm(pdf) == page_size_mm(plain)


def test_only_files_under_webui_static_are_loaded(tmp_path, caplog):
    outside = tmp_path / "big.css"
    outside.write_text("p { font-size: 80pt }")
    inside = printing.STATIC_ROOT / "css" / "app.css"
    assert inside.is_file()
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        with_outside = render_pdf(
            receipt_html(head=f'<link rel="stylesheet" href="{outside.as_uri()}">'),
            paper="receipt80",
        )
    assert outside.as_uri() in caplog.text
    assert page_size_mm(with_outside) == page_size_mm(render_pdf(receipt_html(), paper="receipt80"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        render_pdf(
            receipt_html(head='<link rel="stylesheet" href="css/app.css">'), paper="receipt80"
        )
    assert "Failed to load" not in caplog.text


# --- CUPS ----------------------------------------------------------------------------


def test_unreachable_cups_gives_a_clear_error():
    server = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(PrintingError) as raised:
        printing.list_printers(server)
    assert raised.value.reason == "unreachable"
    assert isinstance(raised.value, ServiceError) and raised.value.status == 503
    assert "Print in the browser" in raised.value.message
    assert server in raised.value.detail
    with pytest.raises(PrintingError, match="not answering"):
        print_pdf(render_pdf("<p>x</p>", paper="a4"), printer="Front", title="t", server=server)


def test_bad_copies_and_non_pdf_are_refused():
    with pytest.raises(InvalidInput, match="copies"):
        print_pdf(b"%PDF-1.7", printer="p", title="t", copies=0)
    with pytest.raises(InvalidInput, match="PDF"):
        print_pdf(b"<html>", printer="p", title="t")


@pytest.mark.slow
def test_receipt_prints_through_cups(cups_server: CupsServer, tmp_path):
    name = cups_server.add_pdf_printer("Front desk")
    listed = {p.name: p for p in printing.list_printers(cups_server.server)}
    assert listed[name].description == "Front desk"
    assert listed[name].state == "idle" and listed[name].accepting and listed[name].ready

    pdf = render_pdf(receipt_html(6), paper="receipt80")
    job = print_pdf(pdf, printer=name, title="RCP-2026-000042", server=cups_server.server)
    done = printing.wait_for_job(job, 60, server=cups_server.server)
    assert (done.state, done.printer) == ("completed", name)

    printed = cups_server.wait_for_output()
    # Printed on a page exactly as long as the receipt, not on the queue's A4 default.
    assert page_size_pt(printed) == pytest.approx(
        page_size_pt(write(tmp_path, "sent.pdf", pdf)), abs=1.5
    )
    text = pdftotext(printed)
    assert "RCP-2026-000042" in text
    # The ₹ glyph is printed, but the PostScript step of the cups-pdf queue drops its
    # Unicode mapping, so pdftotext reads it as some other character.
    total = next(line for line in text.splitlines() if "Total" in line)
    assert total.strip().startswith("Total") and total.strip().endswith("1,250.00")
    assert len(total.strip()) == len("Total ₹1,250.00")


@pytest.mark.slow
def test_a4_prints_as_a4_with_copies(cups_server: CupsServer):
    name = cups_server.add_pdf_printer("Office")
    job = print_pdf(
        render_pdf(receipt_html(), paper="a4"),
        printer=name,
        title="INV-2026-000007",
        server=cups_server.server,
        copies=2,
    )
    printing.wait_for_job(job, 60, server=cups_server.server)
    printed = cups_server.wait_for_output()
    assert page_size_pt(printed) == (pytest.approx(595, abs=1.5), pytest.approx(842, abs=1.5))
    assert "RCP-2026-000042" in pdftotext(printed)


@pytest.mark.slow
def test_printer_problems_give_clear_errors(cups_server: CupsServer):
    name = cups_server.add_pdf_printer("Front desk")
    pdf = render_pdf(receipt_html(), paper="receipt80")

    with pytest.raises(PrintingError) as raised:
        print_pdf(pdf, printer="Nope", title="t", server=cups_server.server, kind="receipt printer")
    assert raised.value.reason == "unknown_printer"
    assert "The receipt printer 'Nope' is not set up" in raised.value.message

    with pytest.raises(PrintingError, match="No receipt printer is chosen"):
        print_pdf(pdf, printer="", title="t", server=cups_server.server, kind="receipt printer")

    subprocess.run(
        ["cupsdisable", "-h", cups_server.server, "-r", "Paper out", name],
        check=True,
        timeout=30,
    )
    with pytest.raises(PrintingError) as raised:
        print_pdf(pdf, printer=name, title="t", server=cups_server.server, kind="receipt printer")
    assert raised.value.reason == "stopped"
    assert raised.value.message.startswith("The receipt printer 'Front desk' is not connected")
    assert "Paper out" in raised.value.message and "Print in the browser" in raised.value.message

    subprocess.run(["cupsenable", "-h", cups_server.server, name], check=True, timeout=30)
    subprocess.run(["cupsreject", "-h", cups_server.server, name], check=True, timeout=30)
    with pytest.raises(PrintingError) as raised:
        print_pdf(pdf, printer=name, title="t", server=cups_server.server)
    assert raised.value.reason == "not_accepting"
    assert cups_server.output_pdfs() == []  # nothing was queued to come out later


@pytest.mark.slow
def test_a_job_that_does_not_print_in_time_is_cancelled(cups_server: CupsServer):
    name = cups_server.add_pdf_printer("Front desk")
    # A held job stands for a printer that never takes the job (switched off, no paper).
    cups.setServer("127.0.0.1")
    cups.setPort(cups_server.port)
    connection = cups.Connection()
    path = cups_server.root / "held.pdf"
    path.write_bytes(render_pdf(receipt_html(), paper="receipt80"))
    job = connection.printFile(name, str(path), "held", {"job-hold-until": "indefinite"})
    del connection

    with pytest.raises(PrintingError) as raised:
        printing.wait_for_job(
            job, 1, server=cups_server.server, kind="receipt printer", poll_seconds=0.1
        )
    assert raised.value.reason == "timeout"
    assert f"The receipt printer '{name}' has not printed" in raised.value.message
    assert printing.job_state(job, cups_server.server).state == "canceled"
    with pytest.raises(PrintingError, match="canceled"):
        printing.wait_for_job(job, 5, server=cups_server.server)


def test_printed_codes_come_out_letter_for_letter(cups_server: CupsServer):
    """No ligatures: a printer named "physioez-69ff42" or a reference "fi-22" must read back,
    and copy out of the printed PDF, as typed. The cups-pdf queue's PostScript step drops a
    ligature glyph's Unicode mapping, so "ff" came out as one unreadable character."""
    name = cups_server.add_pdf_printer("Office")
    codes = "physioez-69ff42 office-fi-22 staff-fl3"
    job = print_pdf(
        render_pdf(f"<p>{codes}</p>", paper="a4"),
        printer=name,
        title="codes",
        server=cups_server.server,
    )
    printing.wait_for_job(job, 60, server=cups_server.server)
    assert codes in pdftotext(cups_server.wait_for_output())
