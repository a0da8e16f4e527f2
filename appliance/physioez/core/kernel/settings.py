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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from physioez.core.kernel.bounds import LimitsSettings

DEFAULT_CONFIG_PATH = Path("/etc/physioez/physioez.toml")
ENV_PREFIX = "PHYSIOEZ_"
CONFIG_PATH_ENV = "PHYSIOEZ_CONFIG"


class SettingsError(Exception):
    """Raised when settings cannot be loaded; the message is meant for the operator."""


class Section(BaseModel):
    """Base of every settings section: unknown keys and bad values stop the start."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class BranchSettings(Section):
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


class ServerSettings(Section):
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


class PathSettings(Section):
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


class DatabaseSettings(Section):
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


class AuthSettings(Section):
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


class PrintingSettings(Section):
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


class RealtimeSettings(Section):
    enabled: bool = Field(True, description="Serve live updates over Socket.IO.")
    ping_interval_seconds: int = Field(
        25, ge=5, le=300, description="Socket.IO keep-alive interval."
    )


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Minimum level written to the log."
    )


class Settings(Section):
    """The core's sections. The settings an app runs with are an instance of
    :func:`model`: this class plus one section per module that declares one."""

    branch: BranchSettings = BranchSettings()
    server: ServerSettings = ServerSettings()
    paths: PathSettings = PathSettings()
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitsSettings = LimitsSettings()
    printing: PrintingSettings = PrintingSettings()
    realtime: RealtimeSettings = RealtimeSettings()
    logging: LoggingSettings = LoggingSettings()

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """Return a copy with dotted keys replaced (``{"auth.lockout_threshold": 3}``)."""
        layered = self.model_dump()
        for dotted, value in overrides.items():
            _assign(type(self), layered, dotted, value, source="override")
        return _validate(type(self), layered, source_of={k: "override" for k in overrides})

    def __getattr__(self, name: str) -> Any:
        # A module's section (``settings.reception``) is a field of the model built by
        # model(); this only runs for names that are not, and says which module is missing.
        try:
            return super().__getattr__(name)  # type: ignore[misc]
        except AttributeError:
            raise AttributeError(
                f"Settings have no section {name!r}: is the module that declares it installed?"
            ) from None


# Sections declared by modules (Module(settings=...)), by section name.
_SECTIONS: dict[str, type[Section]] = {}
_MODELS: dict[tuple[tuple[str, type[Section]], ...], type[Settings]] = {}


def register_section(name: str, section: type[BaseModel]) -> None:
    if name in Settings.model_fields:
        raise ValueError(f"Settings section {name!r} belongs to the core.")
    if not issubclass(section, Section):
        raise TypeError(f"Settings section {name!r} must subclass settings.Section.")
    held = _SECTIONS.get(name)
    if held is not None and held is not section:
        raise ValueError(f"Settings section {name!r} is declared twice.")
    _SECTIONS[name] = section


def unregister_section(name: str) -> None:
    _SECTIONS.pop(name, None)


def model() -> type[Settings]:
    """The settings model of the core and every module declared so far (built once per set)."""
    key = tuple(_SECTIONS.items())
    built = _MODELS.get(key)
    if built is None:
        fields: dict[str, Any] = {name: (section, section()) for name, section in key}
        built = create_model("Settings", __base__=Settings, **fields)
        _MODELS[key] = built
    return built


def defaults() -> Settings:
    """Every setting at its default: the core's and the declared modules'."""
    return model()()


def documented_keys(settings_model: type[Settings] | None = None) -> dict[str, tuple[Any, str]]:
    """Every ``section.key`` with its default and description, in declaration order."""
    keys: dict[str, tuple[Any, str]] = {}
    for section_name, section_field in (settings_model or model()).model_fields.items():
        section_model = section_field.annotation
        assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
        for key, field in section_model.model_fields.items():
            keys[f"{section_name}.{key}"] = (field.default, field.description or "")
    return keys


def load_settings(
    config_path: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Build settings from defaults, the config file, then ``PHYSIOEZ_*`` variables."""
    settings_model = model()
    environ = dict(os.environ) if environ is None else environ
    layered: dict[str, Any] = {}
    source_of: dict[str, str] = {}
    path = _config_path(config_path, environ)
    if path is not None:
        for dotted, value in _read_toml(path).items():
            _assign(settings_model, layered, dotted, value, source=str(path))
            source_of[dotted] = f"config file {path}"
    known = documented_keys(settings_model)
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_PATH_ENV:
            continue
        dotted = _env_to_key(name, known)
        _assign(settings_model, layered, dotted, raw, source=f"environment variable {name}")
        source_of[dotted] = f"environment variable {name}"
    return _validate(settings_model, layered, source_of)


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


def _assign(
    settings_model: type[Settings], layered: dict[str, Any], dotted: str, value: Any, source: str
) -> None:
    section, _, key = dotted.partition(".")
    if section not in settings_model.model_fields or not key:
        raise SettingsError(f"Unknown setting {dotted!r} in {source}.")
    section_model = settings_model.model_fields[section].annotation
    assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
    if key not in section_model.model_fields:
        raise SettingsError(f"Unknown setting {dotted!r} in {source}.")
    layered.setdefault(section, {})[key] = value


def _validate(
    settings_model: type[Settings], layered: dict[str, Any], source_of: dict[str, str]
) -> Settings:
    try:
        return settings_model.model_validate(layered)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            dotted = ".".join(str(part) for part in error["loc"][:2])
            where = source_of.get(dotted, "defaults")
            problems.append(f"Setting {dotted!r} from {where}: {error['msg']}.")
        raise SettingsError(" ".join(problems)) from None
