"""HTML to PDF with WeasyPrint: A4 with margins, or an 80 mm receipt exactly as long as its
content; stylesheets, fonts and images only from ``webui/static``. And a PDF's page size read
back, so a receipt goes to the printer on paper exactly as long as it is."""

from __future__ import annotations

import math
import re
import threading
import zlib
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from physioez.core.kernel.errors import InvalidInput

Paper = Literal["a4", "receipt80"]


# Print assets live beside the web app's own (served by the box, never a CDN).
STATIC_ROOT = Path(__file__).resolve().parents[5] / "webui" / "static"


MM_PER_CSS_PX = 25.4 / 96


# A roll has no page length, but PDF viewers and many RIPs refuse pages taller than
# 200 inches (14,400 pt, PDF's classic implementation limit). A receipt longer than this
# is split into pages of this height rather than producing a file a printer rejects.
RECEIPT_MAX_HEIGHT_MM = 5000


RECEIPT_WIDTH_MM = 80


# 80 mm thermal printers print 72 mm of it (576 dots at 203 dpi): 4 mm each side.
RECEIPT_SIDE_MARGIN_MM = 4


RECEIPT_END_MARGIN_MM = 4


RECEIPT_MIN_HEIGHT_MM = RECEIPT_WIDTH_MM + 1


# !important: a template's own @page rule must not change the paper the printer holds.
# Printed codes and names are read back and copied (invoice numbers, printer names): no
# "ff"/"fi" ligatures, which put one glyph for two letters into the PDF's text.
_NO_LIGATURES = "html { font-variant-ligatures: none; }"


_A4_CSS = "@page { size: A4 !important; margin: 15mm 15mm 18mm 15mm !important; } " + _NO_LIGATURES


# --- HTML to PDF ---------------------------------------------------------------------

# Pango and fontconfig underneath WeasyPrint have a history of crashing when several
# threads lay out text at once, and one crash would take the whole appliance (one
# process) down. Receipts take tens of milliseconds, so rendering one at a time is cheap.
_render_lock = threading.Lock()


def render_pdf(html: str, *, paper: Paper, base_url: str | None = None) -> bytes:
    """Render ``html`` to PDF on ``paper``: ``a4``, or ``receipt80`` (80 mm roll).

    Relative links resolve against ``base_url`` (default: ``webui/static``), and only files
    under ``webui/static`` (and ``data:`` URLs) are loaded; anything else is skipped with a
    warning in the log, so a template can never make the box call out to the network.
    """
    # Imported here, not at the top: WeasyPrint loads Pango as it is imported, and the app,
    # the CLI and the tests that never print should not pay for that at start.
    from weasyprint import CSS, HTML

    if paper not in ("a4", "receipt80"):
        raise InvalidInput(f"Unknown paper {paper!r}: use 'a4' or 'receipt80'.", field="paper")
    fetcher = _static_fetcher()
    document = HTML(
        string=html,
        base_url=base_url or STATIC_ROOT.as_uri() + "/",
        url_fetcher=fetcher,
    )
    with _render_lock:
        if paper == "a4":
            return document.write_pdf(stylesheets=[CSS(string=_A4_CSS)])
        return _render_receipt(document, CSS)


def _receipt_css(height_mm: float) -> str:
    return (
        f"@page {{ size: {RECEIPT_WIDTH_MM}mm {height_mm:.2f}mm !important; "
        f"margin: {RECEIPT_END_MARGIN_MM}mm {RECEIPT_SIDE_MARGIN_MM}mm !important; }} "
        + _NO_LIGATURES
    )


def _render_receipt(document, css_class) -> bytes:
    # A receipt roll has no page length, and CSS has no "as tall as the content" page size
    # (`size` takes a length or a paper name for each side, never auto). So lay it out
    # once on a page taller than any receipt, measure where the root element's box ends,
    # and lay it out again on a page exactly that tall: one page, no blank paper fed after
    # the last line. The width is the same in both passes, so the lines break the same.
    probe = document.render(stylesheets=[css_class(string=_receipt_css(RECEIPT_MAX_HEIGHT_MM))])
    if len(probe.pages) != 1:
        # Longer than the tallest page a PDF reader accepts: keep those full-height pages.
        return probe.write_pdf()
    # WeasyPrint has no public API for the laid-out height; the page box's first child is
    # the root (html) box, whose margin box ends where the content ends.
    root = probe.pages[0]._page_box.children[0]
    bottom_px = root.position_y + root.margin_height()
    # Round up to a tenth of a millimetre so rounding can never push a line onto a page 2.
    height_mm = math.ceil((bottom_px * MM_PER_CSS_PX + RECEIPT_END_MARGIN_MM) * 10 + 1) / 10
    # Never shorter than wide: print systems take such a page for landscape and turn it
    # (CUPS names paper width x length with the width the shorter side), which on a roll
    # would print the receipt sideways. A short receipt feeds a little blank paper instead.
    height_mm = max(height_mm, RECEIPT_MIN_HEIGHT_MM)
    return document.write_pdf(stylesheets=[css_class(string=_receipt_css(height_mm))])


def _static_fetcher():
    from weasyprint.urls import URLFetcher

    class StaticOnlyFetcher(URLFetcher):
        """Serves ``file:`` URLs under ``webui/static`` and ``data:`` URLs; refuses the rest."""

        def fetch(self, url, headers=None):
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and _is_static_file(url):
                return super().fetch(url, headers)
            raise ValueError(f"only files under {STATIC_ROOT} are loaded when printing: {url}")

    # Never follow redirects or time out on a network request: none is made.
    return StaticOnlyFetcher(allow_redirects=False)


def _is_static_file(url: str) -> bool:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return False
    path = Path(url2pathname(unquote(parts.path))).resolve()
    # resolve() follows symlinks, so a link inside static pointing elsewhere is refused too.
    return path.is_file() and path.is_relative_to(STATIC_ROOT.resolve())


_MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")


_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def page_size_mm(pdf: bytes) -> tuple[float, float] | None:
    """Width and height of the first page of ``pdf`` in millimetres, if it can be read.

    WeasyPrint keeps page objects in compressed object streams, so the MediaBox is looked
    for in the file and then inside each Flate stream; no PDF library is needed for that.
    """
    found = _MEDIABOX.search(pdf)
    if found is None:
        for stream in _STREAM.finditer(pdf):
            try:
                data = zlib.decompress(stream.group(1))
            except zlib.error:
                continue
            found = _MEDIABOX.search(data)
            if found is not None:
                break
    if found is None:
        return None
    x0, y0, x1, y1 = (float(v) for v in found.groups())
    return round(abs(x1 - x0) * 25.4 / 72, 1), round(abs(y1 - y0) * 25.4 / 72, 1)
