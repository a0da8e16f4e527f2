"""Typed settings, layered: built-in defaults < config file < ``PHYSIOEZ_*`` environment.

Every key lives in exactly one section model below, with its default and a one-line
description; ``docs/settings.md`` documents each of them and a test fails when one is
missing there. A misspelt key or a bad value must stop the start with a message naming
the key and where it came from, because a clinic's IT person should never have to guess
why the appliance ignored their change.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from physioez.core.kernel.bounds import LimitsSettings

DEFAULT_CONFIG_PATH = Path("/etc/physioez/physioez.toml")
ENV_PREFIX = "PHYSIOEZ_"
CONFIG_PATH_ENV = "PHYSIOEZ_CONFIG"


class SettingsError(Exception):
    """Raised when settings cannot be loaded; the message is meant for the operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class BranchSettings(_Section):
    id: str = Field(
        "BR01",
        pattern=r"^[A-Z0-9]{2,8}$",
        description="Branch code (2-8 capitals or digits); prefixes MRNs and invoice numbers.",
    )
    name: str = Field("PhysioEZ Clinic", min_length=1, description="Branch name shown to staff.")
    timezone: str = Field(
        "Asia/Kolkata", description="IANA time zone in which times are shown to staff."
    )
    currency: str = Field(
        "INR", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of the branch."
    )
    locale: str = Field(
        "en_IN",
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$",
        description="Locale for amounts and numbers shown to people (en_IN groups 1,25,000.00).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class ServerSettings(_Section):
    host: str = Field("0.0.0.0", description="Address the web server listens on.")  # noqa: S104
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web server.")
    threads: int = Field(
        16, ge=2, le=256, description="Worker threads of the single gunicorn gthread worker."
    )
    behind_tls: bool = Field(
        False, description="Set when clients reach the box over HTTPS; cookies become Secure."
    )
    max_request_kb: int = Field(
        2048, ge=16, le=65536, description="Largest accepted request body, in KiB."
    )
    access_log: bool = Field(True, description="Write one JSON access-log line per request.")


class PathSettings(_Section):
    data_dir: Path = Field(
        Path("/var/lib/physioez"), description="Database, secrets and uploads live here."
    )
    key_file: Path = Field(
        Path("/etc/physioez/keys/kek"),
        description="Root-only key-encryption key; created on first start.",
    )

    @property
    def database(self) -> Path:
        return self.data_dir / "physioez.sqlite3"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "session-secret"


class DatabaseSettings(_Section):
    busy_timeout_ms: int = Field(
        5000, ge=100, le=60000, description="How long a statement waits for a lock, in ms."
    )
    cache_mb: int = Field(32, ge=2, le=1024, description="SQLite page cache per connection, MiB.")
    checkpoint_seconds: int = Field(
        30,
        ge=0,
        le=3600,
        description="Background WAL checkpoint interval, seconds (0 leaves it to SQLite).",
    )


class AuthSettings(_Section):
    lockout_threshold: int = Field(
        5, ge=1, le=100, description="Failed sign-ins in a row that lock an account."
    )
    lockout_minutes: int = Field(
        15, ge=1, le=1440, description="How long a locked account stays locked."
    )
    ip_attempts_per_window: int = Field(
        20, ge=1, le=10000, description="Failed sign-ins one IP address may make per window."
    )
    ip_window_minutes: int = Field(
        10, ge=1, le=1440, description="Length of the per-IP rate-limit window."
    )
    idle_lock_minutes: int = Field(
        5, ge=1, le=240, description="Idle minutes before a staff screen locks (PIN to unlock)."
    )
    session_hours: int = Field(
        12,
        ge=1,
        le=168,
        description="A signed-in session ends this many hours after sign-in, however active.",
    )
    password_min_length: int = Field(10, ge=8, le=128, description="Shortest accepted password.")
    hash_profile: Literal["interactive", "moderate", "fast-insecure-for-tests"] = Field(
        "interactive",
        description="argon2id cost; 'fast-insecure-for-tests' exists only for the test suite.",
    )


class ReceptionSettings(_Section):
    required_documents: list[str] = Field(
        ["id", "consent_form"],
        description="Documents every patient should have; the patient page lists what is missing.",
    )
    max_document_mb: int = Field(
        10, ge=1, le=100, description="Largest patient document upload, in MiB."
    )

    late_cancel_hours: int = Field(
        24, ge=0, le=168, description="A cancellation this close to the start is flagged late."
    )
    auto_no_show: bool = Field(
        False, description="At day end, mark booked patients who never arrived as no-shows."
    )

    @field_validator("required_documents", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # Environment variables can only carry text: "id,consent_form".
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("required_documents")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        known = {"id", "consent_form", "referral_letter", "insurance", "report", "other"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown document kind {unknown} (use {sorted(known)})")
        return value


class BillingSettings(_Section):
    legal_name: str = Field(
        "PhysioEZ Clinic Pvt Ltd", min_length=1, description="Legal name printed on invoices."
    )
    address: str = Field(
        "Clinic address not set", min_length=1, description="Address printed on invoices."
    )
    tax_number: str = Field(
        "", description="Tax registration number (e.g. GSTIN) printed on tax invoices."
    )
    fiscal_year_start_month: int = Field(
        4, ge=1, le=12, description="First month of the fiscal year; invoice numbers restart."
    )
    discount_limit_percent: dict[str, int] = Field(
        {"receptionist": 10, "billing": 25, "branch_manager": 50, "owner": 100},
        description="Largest discount each role may give, in percent of the invoice "
        "(a person with several roles gets the largest). Roles not listed give none.",
    )
    receipt_footer: str = Field(
        "Thank you. Keep this receipt for your records.",
        max_length=300,
        description="Line printed at the foot of receipts.",
    )

    @field_validator("discount_limit_percent", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        # Environment variables can only carry text: "receptionist=10,billing=25".
        if isinstance(value, str):
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("write role=percent pairs separated by commas")
            return {role.strip(): pct.strip() for role, pct in pairs}
        return value

    @field_validator("discount_limit_percent")
    @classmethod
    def _percentages(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(role for role, pct in value.items() if not 0 <= pct <= 100)
        if bad:
            raise ValueError(f"discount limits must be 0-100 percent (check {bad})")
        return value


class PrintingSettings(_Section):
    cups_server: str = Field(
        "",
        max_length=255,
        description="CUPS server that prints (host, host:port or socket path); "
        "empty: the box's own CUPS.",
    )
    receipt_printer: str = Field(
        "",
        max_length=127,
        description="CUPS queue name of the receipt printer; empty: receipts print from "
        "the browser.",
    )
    invoice_printer: str = Field(
        "",
        max_length=127,
        description="CUPS queue name of the A4 invoice printer; empty: invoices print from "
        "the browser.",
    )
    receipt_paper: Literal["receipt80", "a4"] = Field(
        "receipt80",
        description="Paper in the receipt printer: 'receipt80' (80 mm roll) or 'a4'.",
    )

    @field_validator("cups_server")
    @classmethod
    def _server(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("write host, host:port or a socket path, without spaces")
        return value

    @field_validator("receipt_printer", "invoice_printer")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        # CUPS queue names are printable and have no spaces, '/', '\\' or '#'; the name
        # shown to people ("Front desk") is the queue's description, not its name.
        if any(ch.isspace() or ch in "/\\#" or not ch.isprintable() for ch in value):
            raise ValueError(
                "a CUPS queue name has no spaces, '/', '\\' or '#'; "
                "'physioez printers' lists the names"
            )
        return value


class RealtimeSettings(_Section):
    enabled: bool = Field(True, description="Serve live updates over Socket.IO.")
    ping_interval_seconds: int = Field(
        25, ge=5, le=300, description="Socket.IO keep-alive interval."
    )


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Minimum level written to the log."
    )


class SyncSettings(_Section):
    enabled: bool = Field(
        False, description="Replicate this branch to head office over MQTT (off: stand-alone)."
    )
    broker_host: str = Field("localhost", description="Head office's MQTT broker.")
    broker_port: int = Field(1883, ge=1, le=65535, description="MQTT port (8883 for TLS).")
    username: str = Field(
        "",
        max_length=64,
        description="Broker user name; empty: the branch id (as the ACL expects).",
    )
    password_file: Path = Field(
        Path("/etc/physioez/sync-broker.password"),
        description="Root-only file holding the broker password (never in this file).",
    )
    tls_ca: str = Field(
        "", description="CA certificate file of the broker; set it and the link is TLS."
    )
    hq_public_key: str = Field(
        "", description="Head office's public key (physioez sync hq-key prints it), base64."
    )
    hq_verify_key: str = Field(
        "",
        description="Head office's signing key (physioez sync hq-key prints it), base64; "
        "set it and head office's own changes come down to this branch.",
    )
    batch_rows: int = Field(200, ge=1, le=1000, description="Most outbox rows in one batch.")
    batch_kb: int = Field(256, ge=16, le=4096, description="Most KiB of rows in one batch.")
    max_inflight: int = Field(
        4, ge=1, le=32, description="Batches sent and not yet acknowledged by head office."
    )
    ack_timeout_seconds: int = Field(
        10, ge=2, le=600, description="Resend from the last ack when none comes this long."
    )


class HqSettings(_Section):
    mysql_host: str = Field("localhost", description="Head office MySQL / MariaDB host.")
    mysql_port: int = Field(3306, ge=1, le=65535, description="MySQL port.")
    mysql_user: str = Field("physioez", description="MySQL user of the ingest.")
    mysql_password_file: Path = Field(
        Path("/etc/physioez/hq-mysql.password"),
        description="Root-only file holding the MySQL password.",
    )
    mysql_database: str = Field("physioez_hq", description="Head office database.")
    broker_host: str = Field("localhost", description="The MQTT broker the branches publish to.")
    broker_port: int = Field(1883, ge=1, le=65535, description="MQTT port (8883 for TLS).")
    broker_username: str = Field("hq-ingest", description="Broker user of the ingest.")
    broker_password_file: Path = Field(
        Path("/etc/physioez/hq-broker.password"),
        description="Root-only file holding the ingest's broker password.",
    )
    tls_ca: str = Field("", description="CA certificate file of the broker (TLS when set).")
    private_key_file: Path = Field(
        Path("/var/lib/physioez-hq/hq-box.key"),
        description="Head office's private key (made on first use, 0600); batches are sealed "
        "to its public half.",
    )


class Settings(_Section):
    branch: BranchSettings = BranchSettings()
    server: ServerSettings = ServerSettings()
    paths: PathSettings = PathSettings()
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    reception: ReceptionSettings = ReceptionSettings()
    billing: BillingSettings = BillingSettings()
    limits: LimitsSettings = LimitsSettings()
    printing: PrintingSettings = PrintingSettings()
    sync: SyncSettings = SyncSettings()
    hq: HqSettings = HqSettings()
    realtime: RealtimeSettings = RealtimeSettings()
    logging: LoggingSettings = LoggingSettings()

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """Return a copy with dotted keys replaced (``{"auth.lockout_threshold": 3}``)."""
        layered = self.model_dump()
        for dotted, value in overrides.items():
            _assign(layered, dotted, value, source="override")
        return _validate(layered, source_of={k: "override" for k in overrides})


def documented_keys() -> dict[str, tuple[Any, str]]:
    """Every ``section.key`` with its default and description, in declaration order."""
    keys: dict[str, tuple[Any, str]] = {}
    for section_name, section_field in Settings.model_fields.items():
        section_model = section_field.annotation
        for key, field in section_model.model_fields.items():
            keys[f"{section_name}.{key}"] = (field.default, field.description or "")
    return keys


def load_settings(
    config_path: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Build settings from defaults, the config file, then ``PHYSIOEZ_*`` variables."""
    environ = dict(os.environ) if environ is None else environ
    layered: dict[str, Any] = {}
    source_of: dict[str, str] = {}
    path = _config_path(config_path, environ)
    if path is not None:
        for dotted, value in _read_toml(path).items():
            _assign(layered, dotted, value, source=str(path))
            source_of[dotted] = f"config file {path}"
    known = documented_keys()
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_PATH_ENV:
            continue
        dotted = _env_to_key(name, known)
        _assign(layered, dotted, raw, source=f"environment variable {name}")
        source_of[dotted] = f"environment variable {name}"
    return _validate(layered, source_of)


def _config_path(explicit: Path | None, environ: dict[str, str]) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise SettingsError(f"Config file {explicit} does not exist.")
        return explicit
    if environ.get(CONFIG_PATH_ENV):
        path = Path(environ[CONFIG_PATH_ENV])
        if not path.is_file():
            raise SettingsError(f"{CONFIG_PATH_ENV} points to {path}, which does not exist.")
        return path
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"Config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"Config file {path} cannot be read: {exc.strerror}") from None
    flat: dict[str, Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise SettingsError(
                f"Setting {section!r} in {path} must be a [section] table, not a bare value."
            )
        for key, value in table.items():
            flat[f"{section}.{key}"] = value
    return flat


def _env_to_key(name: str, known: dict[str, tuple[Any, str]]) -> str:
    """``PHYSIOEZ_AUTH__LOCKOUT_THRESHOLD`` -> ``auth.lockout_threshold``."""
    body = name[len(ENV_PREFIX) :].lower()
    section, sep, key = body.partition("__")
    dotted = f"{section}.{key}"
    if not sep or dotted not in known:
        raise SettingsError(
            f"Unknown setting in environment variable {name}: expected PHYSIOEZ_<SECTION>__<KEY> "
            f"naming one of the keys in docs/settings.md."
        )
    return dotted


def _assign(layered: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    section, _, key = dotted.partition(".")
    if section not in Settings.model_fields or not key:
        raise SettingsError(f"Unknown setting {dotted!r} in {source}.")
    section_model = Settings.model_fields[section].annotation
    if key not in section_model.model_fields:
        raise SettingsError(f"Unknown setting {dotted!r} in {source}.")
    layered.setdefault(section, {})[key] = value


def _validate(layered: dict[str, Any], source_of: dict[str, str]) -> Settings:
    try:
        return Settings.model_validate(layered)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            dotted = ".".join(str(part) for part in error["loc"][:2])
            where = source_of.get(dotted, "defaults")
            problems.append(f"Setting {dotted!r} from {where}: {error['msg']}.")
        raise SettingsError(" ".join(problems)) from None
