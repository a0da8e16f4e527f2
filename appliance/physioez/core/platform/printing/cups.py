"""PDF to a printer through CUPS with pycups: printers and their state, jobs followed until
printed, and a failure a person can act on."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.platform.printing.pdf import page_size_mm

log = logging.getLogger(__name__)


_FINAL_JOB_STATES = {"completed", "canceled", "aborted"}


_JOB_STATE_NAMES = {
    3: "pending",
    4: "held",
    5: "processing",
    6: "stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}


_PRINTER_STATE_NAMES = {3: "idle", 4: "printing", 5: "stopped"}


_PRINTER_ATTRIBUTES = [
    "printer-state",
    "printer-state-message",
    "printer-is-accepting-jobs",
    "printer-info",
]


_DEFAULT_IPP_PORT = 631


_IPP_NOT_FOUND = 0x0406


_IPP_NOT_ACCEPTING = 0x0506


_IPP_NOT_POSSIBLE = 0x0404


_IPP_SERVICE_UNAVAILABLE = 0x0502


_HTTP_ERROR = -1


_BROWSER_FALLBACK = "or use Print in the browser"


# Pages up to this wide are treated as roll paper (58, 80 and 112 mm rolls).
ROLL_MAX_WIDTH_MM = 112


class PrintingError(ServiceError):
    """Printing did not happen. ``reason`` says why in one word, for code and tests:
    ``unreachable``, ``unknown_printer``, ``stopped``, ``not_accepting``, ``job_failed``,
    ``timeout``, ``no_printer``.
    """

    # The request was fine; the printer or the print service is not. Like a gateway
    # whose upstream is down, so pages and the API can tell it apart from a bad input.
    status = 503

    def __init__(self, message: str, *, reason: str, detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PrinterInfo:
    name: str
    state: str  # idle, printing or stopped
    message: str  # what the printer or its driver last said ("Media empty", "")
    accepting: bool
    description: str = ""  # CUPS' printer-info, e.g. "Front desk"

    @property
    def ready(self) -> bool:
        return self.accepting and self.state != "stopped"


@dataclass(frozen=True)
class JobState:
    job_id: int
    state: str  # pending, held, processing, stopped, canceled, aborted, completed
    message: str
    printer: str

    @property
    def finished(self) -> bool:
        return self.state in _FINAL_JOB_STATES


# --- CUPS ----------------------------------------------------------------------------

# pycups (libcups) keeps the server and port in process-wide state that cups.Connection()
# reads. Two threads printing to different servers would race, so every connection is
# made, and used, while holding this lock.
_cups_lock = threading.RLock()


def _split_server(server: str | None) -> tuple[str, int]:
    """``""``/``None`` -> the local CUPS; ``host``, ``host:port``, ``[v6]:port`` or a socket."""
    server = (server or "").strip()
    if not server or server.startswith("/"):
        return server, _DEFAULT_IPP_PORT
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        port = rest.removeprefix(":")
    elif server.count(":") == 1:
        host, _, port = server.partition(":")
    else:
        host, port = server, ""
    if port and not port.isdigit():
        raise PrintingError(
            "Printing is not set up correctly. Ask your IT person to check the print "
            f"server setting, {_BROWSER_FALLBACK}.",
            reason="unreachable",
            detail=f"printing.cups_server {server!r} has a port that is not a number",
        )
    return host, int(port) if port else _DEFAULT_IPP_PORT


def _server_label(server: str | None) -> str:
    return server or "the local CUPS"


@contextmanager
def _connection(server: str | None) -> Iterator[Any]:  # a cups.Connection (untyped)
    import cups

    host, port = _split_server(server)
    with _cups_lock:
        # An empty server makes libcups fall back to its own default (client.conf,
        # CUPS_SERVER, then the local socket); the port must be reset explicitly or a
        # previous call's port would stick.
        cups.setServer(host)
        cups.setPort(port)
        # Never let libcups prompt for a password on the server's terminal: an empty
        # answer cancels the request instead.
        cups.setPasswordCB(lambda _prompt: "")
        try:
            connection = cups.Connection()
        except RuntimeError as exc:
            raise _unreachable(server, str(exc)) from None
        yield connection


def _unreachable(server: str | None, detail: str) -> PrintingError:
    return PrintingError(
        "Printing is not available: the print service on the box is not answering. "
        "Use Print in the browser for now, and tell your IT person.",
        reason="unreachable",
        detail=f"CUPS at {_server_label(server)}: {detail}",
    )


def _ipp_failure(exc: Exception, server: str | None) -> tuple[int, str]:
    """(status, text) of a pycups error; HTTP-level errors mean the server went away."""
    import cups

    if isinstance(exc, cups.HTTPError):
        raise _unreachable(server, f"HTTP error {exc.args[0] if exc.args else ''}") from None
    status, text = (*exc.args, 0, "")[:2]
    if status in (_HTTP_ERROR, _IPP_SERVICE_UNAVAILABLE):
        # libcups reports a lost or refused connection as an IPP error with these statuses.
        raise _unreachable(server, str(text)) from None
    return int(status), str(text)


def list_printers(server: str | None = None) -> list[PrinterInfo]:
    """Every queue of the CUPS server, sorted by name."""
    import cups

    found: list[PrinterInfo] = []
    with _connection(server) as connection:
        try:
            names = list(connection.getPrinters())
        except (cups.IPPError, cups.HTTPError) as exc:
            status, text = _ipp_failure(exc, server)
            if status == _IPP_NOT_FOUND:
                return []  # CUPS answers "not found" when it has no queues at all.
            raise _unreachable(server, f"{status} {text}") from None
        # getPrinters() leaves out printer-is-accepting-jobs, so each queue is asked.
        for name in names:
            try:
                attrs = connection.getPrinterAttributes(
                    name, requested_attributes=_PRINTER_ATTRIBUTES
                )
            except (cups.IPPError, cups.HTTPError) as exc:
                status, text = _ipp_failure(exc, server)
                if status == _IPP_NOT_FOUND:
                    continue  # deleted since the list was read
                raise _unreachable(server, f"{status} {text}") from None
            found.append(_printer_info(name, attrs))
    return sorted(found, key=_by_name)


def _by_name(printer: PrinterInfo) -> str:
    return printer.name.lower()


def _printer_info(name: str, attrs: dict) -> PrinterInfo:
    state = attrs.get("printer-state", 3)
    return PrinterInfo(
        name=name,
        state=_PRINTER_STATE_NAMES.get(state, f"state {state}"),
        message=str(attrs.get("printer-state-message") or ""),
        accepting=bool(attrs.get("printer-is-accepting-jobs", True)),
        description=str(attrs.get("printer-info") or ""),
    )


def _printer_label(kind: str, name: str, description: str = "") -> str:
    return f"The {kind} '{description or name}'"


def check_printer(printer: str, *, server: str | None = None, kind: str = "printer") -> PrinterInfo:
    """The printer's state, or the :class:`PrintingError` printing to it would meet."""
    with _connection(server) as connection:
        return _check_printer(connection, printer, server, kind)


def _check_printer(connection, printer: str, server: str | None, kind: str) -> PrinterInfo:
    import cups

    if not printer:
        raise PrintingError(
            f"No {kind} is chosen for this box, so it cannot print directly. "
            f"Use Print in the browser, or ask your IT person to choose one.",
            reason="no_printer",
            detail="the printing setting for this printer is empty",
        )
    try:
        attrs = connection.getPrinterAttributes(printer, requested_attributes=_PRINTER_ATTRIBUTES)
    except (cups.IPPError, cups.HTTPError) as exc:
        status, text = _ipp_failure(exc, server)
        if status == _IPP_NOT_FOUND:
            raise PrintingError(
                f"The {kind} '{printer}' is not set up on this box. Use Print in the browser, "
                "and ask your IT person to check the printer settings.",
                reason="unknown_printer",
                detail=f"CUPS at {_server_label(server)} has no queue named {printer!r}",
            ) from None
        raise _unreachable(server, f"{status} {text}") from None
    info = _printer_info(printer, attrs)
    label = _printer_label(kind, printer, info.description)
    if info.state == "stopped":
        said = f" (it says: {info.message})" if info.message else ""
        raise PrintingError(
            f"{label} is not connected or has stopped{said}. Check it is switched on, "
            f"connected and has paper, {_BROWSER_FALLBACK}.",
            reason="stopped",
            detail=f"queue {printer!r} is stopped: {info.message or 'no message'}",
        )
    if not info.accepting:
        raise _not_accepting(
            label, f"queue {printer!r} is rejecting jobs: {info.message or 'no message'}"
        )
    return info


def _not_accepting(label: str, detail: str) -> PrintingError:
    return PrintingError(
        f"{label} is switched off for printing on the box. Ask your IT person to turn it "
        f"back on (physioez printers), {_BROWSER_FALLBACK}.",
        reason="not_accepting",
        detail=detail,
    )


def print_pdf(
    pdf: bytes,
    *,
    printer: str,
    title: str,
    server: str | None = None,
    copies: int = 1,
    kind: str = "printer",
) -> int:
    """Send ``pdf`` to ``printer`` and return the CUPS job id.

    The printer is checked first: CUPS would happily queue a job for a stopped printer,
    and a receipt that comes out an hour later, after the receptionist printed it from
    the browser instead, is worse than a clear refusal now. ``kind`` names the printer in
    messages ("receipt printer").
    """
    import cups

    if not 1 <= copies <= 99:
        raise InvalidInput("Print between 1 and 99 copies.", field="copies")
    if not pdf.startswith(b"%PDF-"):
        raise InvalidInput("Only PDF documents can be printed.", field="pdf")
    options = {"copies": str(copies)}
    size = page_size_mm(pdf)
    if size and size[0] <= ROLL_MAX_WIDTH_MM:
        # Ask for a page exactly as long as the receipt. Otherwise CUPS lays the page on
        # the queue's default paper (often "80 x 297 mm" or a 3 m roll "page") and the
        # printer feeds blank paper, or centres the receipt in it, before cutting.
        options["media"] = f"Custom.{size[0]:.1f}x{size[1]:.1f}mm"
    with _connection(server) as connection:
        info = _check_printer(connection, printer, server, kind)
        with tempfile.NamedTemporaryFile(prefix="physioez-print-", suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            try:
                job_id = connection.printFile(
                    printer, handle.name, title[:255] or "PhysioEZ", options
                )
            except (cups.IPPError, cups.HTTPError) as exc:
                status, text = _ipp_failure(exc, server)
                label = _printer_label(kind, printer, info.description)
                if status == _IPP_NOT_ACCEPTING:
                    raise _not_accepting(label, f"{status} {text}") from None
                raise PrintingError(
                    f"{label} refused the document. Try again, {_BROWSER_FALLBACK}.",
                    reason="job_failed",
                    detail=f"{status} {text}",
                ) from None
    log.info("print job %s sent to %s (%s)", job_id, printer, title)
    return int(job_id)


def job_state(job_id: int, server: str | None = None) -> JobState:
    """Where job ``job_id`` is now."""
    import cups

    with _connection(server) as connection:
        try:
            attrs = connection.getJobAttributes(
                job_id,
                requested_attributes=[
                    "job-state",
                    "job-printer-state-message",
                    "job-state-reasons",
                    "job-printer-uri",
                ],
            )
        except (cups.IPPError, cups.HTTPError) as exc:
            status, text = _ipp_failure(exc, server)
            if status == _IPP_NOT_FOUND:
                raise PrintingError(
                    f"The print job {job_id} is not known to the print service. Print again, "
                    f"{_BROWSER_FALLBACK}.",
                    reason="job_failed",
                    detail=f"{status} {text}",
                ) from None
            raise _unreachable(server, f"{status} {text}") from None
    state = attrs.get("job-state", 0)
    reasons = attrs.get("job-state-reasons") or ""
    if isinstance(reasons, list | tuple):
        reasons = ", ".join(r for r in reasons if r != "none")
    message = str(attrs.get("job-printer-state-message") or reasons or "")
    printer = str(attrs.get("job-printer-uri") or "").rstrip("/").rpartition("/")[2]
    return JobState(int(job_id), _JOB_STATE_NAMES.get(state, f"state {state}"), message, printer)


def wait_for_job(
    job_id: int,
    timeout: float = 60.0,
    *,
    server: str | None = None,
    kind: str = "printer",
    poll_seconds: float = 0.25,
) -> JobState:
    """Wait until job ``job_id`` has printed; raise :class:`PrintingError` if it cannot.

    A job that is still waiting after ``timeout`` seconds, or that the printer stopped, is
    cancelled before the error is raised: the message tells the receptionist to print
    from the browser instead, and the queued job must not come out later as a duplicate
    when someone switches the printer back on.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = job_state(job_id, server)
        if state.state == "completed":
            return state
        label = f"The {kind} '{state.printer}'" if state.printer else f"The {kind}"
        said = f" (it says: {state.message})" if state.message else ""
        if state.state in ("aborted", "canceled"):
            raise PrintingError(
                f"The document did not print: the print job was {state.state}{said}. Check "
                f"the printer is switched on and has paper, then print again, "
                f"{_BROWSER_FALLBACK}.",
                reason="job_failed",
                detail=f"job {job_id} {state.state}: {state.message}",
            )
        if state.state == "stopped":
            cancel_job(job_id, server)
            raise PrintingError(
                f"{label} stopped while printing{said}. Check it is switched on, connected "
                f"and has paper, {_BROWSER_FALLBACK}.",
                reason="stopped",
                detail=f"job {job_id} stopped: {state.message}; cancelled",
            )
        if time.monotonic() >= deadline:
            cancel_job(job_id, server)
            raise PrintingError(
                f"{label} has not printed the document after {timeout:g} seconds{said}. Check "
                f"it is switched on, connected and has paper, {_BROWSER_FALLBACK}.",
                reason="timeout",
                detail=f"job {job_id} still {state.state} after {timeout:g}s; cancelled",
            )
        time.sleep(poll_seconds)


def cancel_job(job_id: int, server: str | None = None) -> None:
    """Cancel job ``job_id``; a job that has already finished is left as it is."""
    import cups

    with _connection(server) as connection:
        try:
            connection.cancelJob(job_id)
        except (cups.IPPError, cups.HTTPError) as exc:
            status, text = _ipp_failure(exc, server)
            # "Not possible": the job finished (or was cancelled) in the meantime.
            if status not in (_IPP_NOT_POSSIBLE, _IPP_NOT_FOUND):
                raise _unreachable(server, f"{status} {text}") from None
