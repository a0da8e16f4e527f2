"""A private CUPS server with PDF printers, for the printing tests.

Not a test module. The ``cups_server`` fixture starts its own ``cupsd`` in the foreground on
a free loopback port, with every directory it writes in a temporary folder, so the
machine's own CUPS (port 631, /etc/cups/printers.conf) is never used or changed. Its
printers use the cups-pdf backend and write each job as a PDF into ``output_dir``; the
Poppler helpers below (pdfinfo, pdftotext) read PDFs back as a witness independent of ours.

cups-pdf (3.0.1 on Debian 12) reads ``/etc/cups/cups-pdf-<name>.conf`` when its device URI
is ``cups-pdf:/<name>``, else ``/etc/cups/cups-pdf.conf``; the folder is compiled in. So each
printer gets a unique name and its own conf file there, removed when the test ends, and the
shared ``cups-pdf.conf`` is left alone.

cups-pdf runs as root (CUPS runs a backend that is mode 0700 as root only when cupsd itself
is root), so the fixture needs root; CI runs as root. Without cupsd, cups-pdf or root the
tests are skipped, except when ``CI=true``, where they fail (as the browser tests do).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest

CUPSD = Path("/usr/sbin/cupsd")
LPADMIN = Path("/usr/sbin/lpadmin")
CUPS_PDF_BACKEND = Path("/usr/lib/cups/backend/cups-pdf")
CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
CUPS_PDF_CONF_DIR = Path("/etc/cups")
PDFTOCAIRO = Path("/usr/bin/pdftocairo")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the printing tests, but {reason}.", pytrace=False)
    pytest.skip(reason)


def missing_requirement() -> str | None:
    for path, package in (
        (CUPSD, "cups"),
        (LPADMIN, "cups-client"),
        (CUPS_PDF_BACKEND, "printer-driver-cups-pdf"),
        (CUPS_PDF_PPD, "printer-driver-cups-pdf"),
        # The test queues render with pdftocairo (see add_pdf_printer).
        (PDFTOCAIRO, "poppler-utils"),
    ):
        if not path.exists():
            return f"{path} is not installed (apt-get install {package})"
    if os.geteuid() != 0:
        return "the cups-pdf backend only runs under a cupsd started as root"
    if not os.access(CUPS_PDF_CONF_DIR, os.W_OK):
        return f"{CUPS_PDF_CONF_DIR} is not writable, so no cups-pdf printer can be configured"
    return None


CUPSD_CONF = """\
# Only this loopback port: no domain socket, no sharing, no browsing, no web interface.
Listen 127.0.0.1:{port}
Browsing No
BrowseLocalProtocols none
DefaultShared No
WebInterface No
LogLevel debug
MaxLogSize 0
PreserveJobHistory Yes
# Test server: every operation is allowed without a password, from loopback only.
DefaultAuthType None
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """\
ServerRoot {root}/etc
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
User lp
Group lp
SystemGroup root
FileDevice No
"""

CUPS_PDF_CONF = """\
# Written by the PhysioEZ test suite for printer {name}; removed when its test ends.
Out {out}
AnonDirName {out}
Spool {root}/cups-pdf-spool
Log {root}/log
LogType 7
Grp root
"""


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        skip_or_fail(f"{tool} is not installed (apt-get install poppler-utils)")
    return path


def pdfinfo(path: Path) -> dict[str, str]:
    out = subprocess.run(
        [poppler("pdfinfo"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def page_size_pt(path: Path) -> tuple[float, float]:
    # "226.772 x 365.669 pts" or "595.276 x 841.89 pts (A4)"
    width, _, rest = pdfinfo(path)["Page size"].partition(" x ")
    return float(width), float(rest.split()[0])


def pdftotext(path: Path) -> str:
    return subprocess.run(
        [poppler("pdftotext"), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@dataclass
class CupsServer:
    root: Path
    port: int
    output_dir: Path
    process: subprocess.Popen | None = None
    stderr: BinaryIO | None = None
    printers: list[str] = field(default_factory=list)
    conf_files: list[Path] = field(default_factory=list)

    @property
    def server(self) -> str:
        """The value for ``printing.cups_server``."""
        return f"127.0.0.1:{self.port}"

    def lpadmin(self, *args: str) -> None:
        subprocess.run(
            [str(LPADMIN), "-h", self.server, *args],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def add_pdf_printer(self, description: str = "Test PDF printer") -> str:
        """A new enabled cups-pdf queue with a unique name; its PDFs go to ``output_dir``."""
        name = f"physioez-test-{uuid.uuid4().hex[:10]}"
        conf = CUPS_PDF_CONF_DIR / f"cups-pdf-{name}.conf"
        conf.write_text(CUPS_PDF_CONF.format(name=name, out=self.output_dir, root=self.root))
        self.conf_files.append(conf)
        self.lpadmin(
            "-p",
            name,
            "-E",
            "-v",
            f"cups-pdf:/{name}",
            "-P",
            str(CUPS_PDF_PPD),
            "-D",
            description,
            # The queue turns PDF into PostScript for cups-pdf (which reads nothing else)
            # and Ghostscript turns it back. The default renderer writes WeasyPrint's CID
            # fonts without their Unicode map, so pdftotext would read glyph numbers;
            # Poppler's cairo renderer keeps the text readable.
            "-o",
            "pdftops-renderer-default=pdftocairo",
        )
        self.printers.append(name)
        return name

    def output_pdfs(self) -> list[Path]:
        return sorted(self.output_dir.glob("*.pdf"))

    def wait_for_output(self, timeout: float = 30.0) -> Path:
        """The first PDF cups-pdf wrote, once it is complete."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pdfs = self.output_pdfs()
            if pdfs and pdfs[0].read_bytes().rstrip().endswith(b"%%EOF"):
                return pdfs[0]
            time.sleep(0.2)
        raise AssertionError(f"cups-pdf wrote no PDF in {timeout}s:\n{self.error_log()}")

    def error_log(self, lines: int = 40) -> str:
        log = self.root / "log" / "error_log"
        text = log.read_text(errors="replace") if log.exists() else "(no error_log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        for sub in ("etc", "spool/tmp", "cache", "state", "log", "cups-pdf-spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "cupsd.conf").write_text(CUPSD_CONF.format(port=self.port))
        (self.root / "etc" / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=self.root))
        self.stderr = (self.root / "log" / "cupsd.stderr").open("wb")
        self.process = subprocess.Popen(
            [
                str(CUPSD),
                "-f",
                "-c",
                str(self.root / "etc" / "cupsd.conf"),
                "-s",
                str(self.root / "etc" / "cups-files.conf"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = (self.root / "log" / "cupsd.stderr").read_text(errors="replace")
                raise AssertionError(f"cupsd exited at start:\n{stderr}\n{self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"cupsd did not listen on port {self.port}:\n{self.error_log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.stderr is not None:
            self.stderr.close()
        for conf in self.conf_files:
            conf.unlink(missing_ok=True)


@pytest.fixture
def cups_server() -> Iterator[CupsServer]:
    reason = missing_requirement()
    if reason:
        skip_or_fail(reason)
    # Not pytest's tmp_path: filters run as user lp and must reach the spool, and pytest's
    # base folder is private to root.
    root = Path(tempfile.mkdtemp(prefix="physioez-cups-"))
    root.chmod(0o755)
    output = root / "out"
    output.mkdir()
    server = CupsServer(root=root, port=free_port(), output_dir=output)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
