"""Settings precedence and the rule that every setting is documented in docs/configuration.md."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from web.config import ConfigError, Settings, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"data_dir": str(tmp_path)}, environ={})
    assert s.port == 8080 and s.uses_local_beacon
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith("pingbiao.db")


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    (tmp_path / "pingbiao.toml").write_text('port = 9001\nhost = "0.0.0.0"\nlog_format = "json"\n')
    env = {"PINGBIAO_DATA_DIR": str(tmp_path), "PINGBIAO_PORT": "9002"}
    s = load_settings({}, environ=env)
    assert (s.port, s.host, s.log_format) == (9002, "0.0.0.0", "json")
    s = load_settings({"port": 9003}, environ=env)
    assert s.port == 9003


@pytest.mark.parametrize(
    "toml, message",
    [("port = 'x'", "whole number"), ("colour = 'red'", "unknown setting"), ("port = ", "not valid TOML")],
)
def test_bad_config_file_is_clear(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "pingbiao.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings({"data_dir": str(tmp_path)}, environ={})


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text()
    missing = [f.name for f in fields(Settings) if f"`{f.name}`" not in doc]
    assert missing == []


def test_production_refuses_the_local_beacon_unless_allowed(tmp_path: Path) -> None:
    pg = {"data_dir": str(tmp_path), "database_url": "postgresql+asyncpg://pingbiao@db/pingbiao"}
    with pytest.raises(ConfigError, match="本地信标：运营方可预知随机数.*set beacon_url"):
        load_settings(pg, environ={})
    assert load_settings(pg, environ={"PINGBIAO_ALLOW_LOCAL_BEACON": "true"}).uses_local_beacon
    assert not load_settings({**pg, "beacon_url": "https://api.drand.sh"}, environ={}).uses_local_beacon
    assert load_settings({"data_dir": str(tmp_path)}, environ={}).uses_local_beacon  # the embedded set-up
    with pytest.raises(ConfigError, match="allow_local_beacon must be true or false"):
        load_settings(pg, environ={"PINGBIAO_ALLOW_LOCAL_BEACON": "perhaps"})
