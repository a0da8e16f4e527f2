"""Printing: HTML to PDF with WeasyPrint, and PDF to a printer through CUPS with pycups.

Billing renders its invoices and receipts here and sends them to the printers named in
``[printing]``. Nothing here imports Flask, so the CLI, jobs and tests call it directly.

Every failure a person can meet raises :class:`PrintingError` (a ``core.errors``
``ServiceError``) whose ``message`` tells the receptionist what to do; ``detail`` carries
what CUPS said, for the log and the IT person. Nothing is fetched from the network while
rendering: stylesheets, fonts and images come from ``webui/static`` on the box or not at all.
"""

from physioez.core.platform.printing.cups import (
    JobState,
    PrinterInfo,
    PrintingError,
    cancel_job,
    check_printer,
    job_state,
    list_printers,
    print_pdf,
    wait_for_job,
)
from physioez.core.platform.printing.pdf import STATIC_ROOT, Paper, page_size_mm, render_pdf

__all__ = [
    "STATIC_ROOT",
    "JobState",
    "Paper",
    "PrinterInfo",
    "PrintingError",
    "cancel_job",
    "check_printer",
    "job_state",
    "list_printers",
    "page_size_mm",
    "print_pdf",
    "render_pdf",
    "wait_for_job",
]
