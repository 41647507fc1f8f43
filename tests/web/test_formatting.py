"""How values read on a page (web/formatting.py): money, sizes, times on the installation's clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from web.config import ConfigError, load_settings
from web.formatting import local_time, money, size_text, yuan, zone_name

MOMENT = datetime(2026, 12, 2, 16, 30, 5, tzinfo=UTC).timestamp()


def test_money_and_sizes() -> None:
    assert yuan(100000000) == "1,000,000.00" and yuan(-5) == "-0.05" and yuan(None) == ""
    assert money("1234567.50") == "1,234,567.50" and money("abc") == "abc"
    assert size_text(1536) == "1.5 KiB" and size_text(1 << 30) == "1 GiB" and size_text(10) == "10 B"


def test_times_read_on_the_installations_clock_with_the_zone_named() -> None:
    assert local_time(MOMENT, "Asia/Shanghai") == "2026-12-03 00:30:05"
    assert zone_name("Asia/Shanghai", MOMENT) == "北京时间"
    assert local_time(MOMENT, "Asia/Tokyo") == "2026-12-03 01:30:05"
    assert zone_name("Asia/Tokyo", MOMENT) == "UTC+09:00"
    assert zone_name("America/New_York", MOMENT) == "UTC-05:00"


def test_the_time_zone_setting_is_checked() -> None:
    assert load_settings({}, environ={}).time_zone == "Asia/Shanghai"
    assert load_settings({}, environ={"PINGBIAO_TIME_ZONE": "Asia/Tokyo"}).time_zone == "Asia/Tokyo"
    with pytest.raises(ConfigError, match="IANA time zone"):
        load_settings({}, environ={"PINGBIAO_TIME_ZONE": "Mars/Olympus"})
