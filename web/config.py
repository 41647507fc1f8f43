"""Settings of one installation, from (highest first) command-line flags, the environment
(`PINGBIAO_*`), an optional TOML file, and the embedded defaults. Documented in docs/configuration.md;
a test checks that every field here is documented there.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATA_DIR = "pingbiao-data"


class ConfigError(Exception):
    """A setting has a value pingbiao cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every setting of one installation; all state lives under `data_dir`."""

    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = ""  # empty: SQLite file in the data directory
    beacon_url: str = ""  # empty: the embedded local beacon, served at /beacon
    beacon_chain: str = ""  # chain hash to pin when beacon_url is set
    beacon_period: int = 3  # seconds between rounds of a newly created local beacon
    allow_local_beacon: bool = False  # let a production database run on the local beacon (demonstrations only)
    stun_urls: str = ""  # comma-separated STUN URLs handed to booth clients
    turn_urls: str = ""  # comma-separated TURN URLs (coturn), e.g. turn:turn.example:3478?transport=udp
    turn_secret: str = ""  # coturn's static-auth-secret (use-auth-secret), for TURN REST credentials
    turn_ttl: int = 21600  # seconds a TURN credential stays valid
    booth_grace: int = 60  # seconds a booth participant who lost its connection keeps its place
    signaling_bus_url: str = ""  # empty: in-process signaling bus; redis://host:6379/0 for several processes
    janus: str = ""  # the booth's media server: empty = start Janus if installed, "off" = mesh, or http://host:8088/janus
    recordings_dir: str = ""  # where the booth's recordings are kept; empty: <data_dir>/recordings
    recordings_archive_dir: str = ""  # where playable copies of finished recordings go; empty: <data_dir>/archive
    recording_retention_years: int = 15  # years recordings are kept with the tender file (read by the archive, docs/media.md)
    recording_checkpoint_interval: int = 10  # seconds between recording checkpoints in the audit log (1-10)
    allow_unrecorded: str = "auto"  # start an evaluation the booth cannot record: "auto" (only without a production database), "true", "false"
    log_origin: str = "pingbiao.local/audit"  # origin line of the audit log's checkpoints
    log_format: str = "text"  # "text" or "json"
    log_level: str = "INFO"
    time_zone: str = "Asia/Shanghai"  # IANA zone the pages, reports and records show times in
    public_url: str = ""  # the address people reach the platform at, for links in emails (default http://host:port)
    smtp_host: str = ""  # empty: notification emails are off (in-app notifications always work)
    smtp_port: int = 25
    smtp_from: str = "pingbiao@localhost"  # sender address of notification emails
    smtp_starttls: bool = False  # upgrade the SMTP connection with STARTTLS before sending
    smtp_user: str = ""  # SMTP login, when the server wants one
    smtp_password: str = ""
    metrics_token: str = ""  # bearer token that may read /metrics from anywhere; empty: loopback only
    trusted_proxies: str = ""  # comma-separated proxy addresses/networks whose X-Forwarded-For/-Proto are believed; empty: none

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'pingbiao.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        """Create the data directory with mode 0700 (it holds keys and password hashes); an existing
        one loses any access for others."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = self.data_dir.stat().st_mode
        if mode & 0o007:
            os.chmod(self.data_dir, mode & 0o770)
        return self.data_dir

    @property
    def beacon_dir(self) -> Path:
        return self.data_dir / "beacon"

    @property
    def log_key_path(self) -> Path:
        return self.data_dir / "log.key"

    @property
    def uses_local_beacon(self) -> bool:
        return not self.beacon_url

    @property
    def unrecorded_allowed(self) -> bool:
        """May an evaluation start while the booth cannot record it (docs/media.md)? ``auto``: only
        on the demonstration set-up (SQLite), never with a production database."""
        value = str(self.allow_unrecorded).strip().lower()
        if value == "auto":
            return not self.is_production
        return value == "true"

    @property
    def is_production(self) -> bool:
        """A server database (PostgreSQL) is the production set-up (docs/architecture.md)."""
        return bool(self.database_url) and not self.database_url.startswith("sqlite")


_INT_FIELDS = {"port", "beacon_period", "turn_ttl", "booth_grace", "smtp_port", "recording_retention_years",
               "recording_checkpoint_interval"}


def _coerce(name: str, value: Any) -> Any:
    if name == "data_dir":
        return Path(str(value)).expanduser()
    if name in ("allow_local_beacon", "smtp_starttls"):
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in {"1", "true", "yes"}:
            return True
        if str(value).strip().lower() in {"0", "false", "no", ""}:
            return False
        raise ConfigError(f"设置 {name} 须为 true 或 false setting {name} must be true or false, got {value!r}")
    if name == "allow_unrecorded":
        text = str(value).strip().lower() if not isinstance(value, bool) else str(value).lower()
        if text in {"auto", ""}:
            return "auto"
        if text in {"1", "true", "yes"}:
            return "true"
        if text in {"0", "false", "no"}:
            return "false"
        raise ConfigError(f"设置 allow_unrecorded 须为 auto、true 或 false setting allow_unrecorded must be auto, true or false, got {value!r}")
    if name in _INT_FIELDS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"设置 {name} 须为整数 setting {name} must be a whole number, got {value!r}") from None
        if name == "recording_checkpoint_interval" and not 1 <= number <= 10:
            raise ConfigError(f"设置 recording_checkpoint_interval 须为 1 到 10 秒 setting recording_checkpoint_interval must be 1 to 10 seconds, got {value!r}")
        return number
    if name == "trusted_proxies":
        for part in (p.strip() for p in str(value).split(",")):
            try:
                part and ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ConfigError(f"设置 trusted_proxies 中有无效的 IP 地址或网段 setting trusted_proxies: {part!r} is not an IP address or network") from None
    if name == "log_format" and value not in {"text", "json"}:
        raise ConfigError(f"设置 log_format 须为 text 或 json setting log_format must be 'text' or 'json', got {value!r}")
    if name == "time_zone":
        try:
            ZoneInfo(str(value))
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError(f"设置 time_zone 须为时区名称（如 Asia/Shanghai） setting time_zone must be an IANA time zone such as Asia/Shanghai, got {value!r}") from None
    return str(value)


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from overrides (flags) > environment > config file > defaults.

    The config file is `PINGBIAO_CONFIG` if set, else `<data_dir>/pingbiao.toml` if it exists.
    """
    env = dict(os.environ if environ is None else environ)
    names = [f.name for f in fields(Settings)]
    given: dict[str, Any] = {}
    from_env = {n: env[f"PINGBIAO_{n.upper()}"] for n in names if f"PINGBIAO_{n.upper()}" in env}
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}

    data_dir = Path(flags.get("data_dir") or from_env.get("data_dir") or DEFAULT_DATA_DIR).expanduser()
    config_path = Path(env["PINGBIAO_CONFIG"]) if env.get("PINGBIAO_CONFIG") else data_dir / "pingbiao.toml"
    if config_path.exists():
        try:
            from_file = tomllib.loads(config_path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"配置文件不是有效的 TOML {config_path} is not valid TOML: {exc}") from None
        unknown = set(from_file) - set(names)
        if unknown:
            raise ConfigError(f"配置文件中有无法识别的设置 {config_path}: unknown setting(s) {', '.join(sorted(unknown))}")
        given.update(from_file)
    elif env.get("PINGBIAO_CONFIG"):
        raise ConfigError(f"找不到配置文件 config file {config_path} does not exist")
    given.update(from_env)
    given.update(flags)
    given["data_dir"] = data_dir
    settings = replace(Settings(), **{k: _coerce(k, v) for k, v in given.items() if k in names})
    if settings.is_production and settings.uses_local_beacon and not settings.allow_local_beacon:
        raise ConfigError(
            "本地信标：运营方可预知随机数，仅供演示/测试 — a production database with the embedded local beacon: "
            "set beacon_url (and beacon_chain) to a drand network, or allow_local_beacon = true for a demonstration"
        )
    return settings
