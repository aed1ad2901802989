"""The server's roster laid over the tablet's own settings (Kivy-free)."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, load_settings
from kiosk.roster import settings_with_roster, try_settings_with_roster


def _roster(settings) -> dict:
    return {
        "commune": {"name": "UBND xã Tân Lập", "hotline": "0987 000 111"},
        "counters": [{"id": "quay-1", "name": "Quầy số 1"}],
        "officers": [
            {"id": "dinh-van-nam", "name": "Đinh Văn Nam", "title": "Công chức Tư pháp - Hộ tịch",
             "active": True, "pin_hash": settings.officers[0].pin_hash, "photo_file": None},
            {"id": "ly-thi-hoa", "name": "Lý Thị Hoa", "title": "Công chức Văn phòng - Thống kê",
             "active": True, "pin_hash": None, "photo_file": str(settings.officers[1].photo)},
        ],
        "reasons": {"low": ["waited_long", {"id": "no-seat", "vi": "Không có chỗ ngồi", "en": "No seat"}]},
        "settings": {"rating": {"scale": 5}, "timeouts": {"thanks": 6}},
    }


def test_the_roster_decides_officers_reasons_and_commune_settings(config_path):
    own = load_settings(config_path)
    merged = settings_with_roster(own, _roster(own))
    assert merged.commune_name == "UBND xã Tân Lập" and merged.hotline == "0987 000 111"
    assert [o.id for o in merged.officers] == ["dinh-van-nam", "ly-thi-hoa"]
    assert merged.officers[1].photo == own.officers[1].photo
    assert [r.id for r in merged.low_reasons] == ["waited_long", "no-seat"]
    assert merged.low_reasons[1].label("vi") == "Không có chỗ ngồi"
    assert merged.scale == 5 and merged.timeouts.thanks == 6
    # What belongs to the tablet stays the tablet's.
    assert (merged.counter_id, merged.mode, merged.server_url) == (own.counter_id, own.mode, own.server_url)
    assert merged.technician_pin_hash == own.technician_pin_hash
    assert merged.raw == own.raw  # config.yaml is never rewritten with the roster


def test_a_roster_that_would_break_the_tablet_is_not_applied(demo_tree, tmp_path):
    from tests.conftest import write_config

    demo_tree["attribution"] = {"mode": "officer", "officer": "nguyen-thi-lan"}
    own = load_settings(write_config(tmp_path, demo_tree))
    roster = _roster(own)  # nguyen-thi-lan is not on it
    with pytest.raises(ConfigError) as caught:
        settings_with_roster(own, roster)
    assert caught.value.path == "attribution.officer"
    kept, problem = try_settings_with_roster(own, roster)
    assert kept is own and problem is not None
