"""The mapping between config.yaml and the technician's settings panels."""

from __future__ import annotations

import json

import pytest

from kiosk import settings_panel
from kiosk.config import ConfigError, load_settings, officer_id_for, parse_settings
from kiosk.config_file import ConfigFile
from kiosk.i18n import catalogue


def test_every_item_has_words_in_both_languages():
    for language in ("vi", "en"):
        for panel, title, data in settings_panel.panels(catalogue(language).get):
            entries = json.loads(data)
            assert title and entries
            assert all(e["title"] and e["section"] == panel for e in entries)


def test_values_round_trip_through_the_config_file(config_path):
    """Writing back every value the panels show changes nothing that loads."""
    settings = load_settings(config_path)
    changes = dict(
        settings_panel.to_change(panel, key, text)
        for panel, items in settings_panel.values(settings).items()
        for key, text in items.items()
    )
    again = ConfigFile(config_path).set_values(changes)
    assert settings_panel.values(again) == settings_panel.values(settings)


@pytest.mark.parametrize(
    "panel, key, text, path, value",
    [
        ("hours", "sat", "07:30-11:30, 13:30-16:30", "working_hours.sat", ["07:30-11:30", "13:30-16:30"]),
        ("hours", "sun", "  ", "working_hours.sun", None),
        ("timeouts", "thanks", "12", "timeouts.thanks", 12),
        ("timeouts", "thanks", "7.5", "timeouts.thanks", 7.5),
        ("rating", "scale", "5", "rating.scale", 5),
        ("rating", "reasons_on_high", "0", "rating.reasons_on_high", False),
        ("rating", "low_reasons", "waited_long, come_back", "reasons.low", ["waited_long", "come_back"]),
        ("display", "server_url", "http://10.0.0.5:8080", "server.url", "http://10.0.0.5:8080"),
    ],
)
def test_text_becomes_the_config_value(panel, key, text, path, value):
    assert settings_panel.to_change(panel, key, text) == (path, value)


def test_a_number_that_does_not_parse_is_refused_by_the_config_check(config_path):
    path, value = settings_panel.to_change("timeouts", "thanks", "mười")
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config_path).set_values({path: value})
    assert caught.value.path == "timeouts.thanks"


def test_officer_ids_from_vietnamese_names():
    assert officer_id_for("Đỗ Thị Ngọc Ánh") == "do-thi-ngoc-anh"
    assert officer_id_for("Nguyễn Văn Bình", ["nguyen-van-binh"]) == "nguyen-van-binh-2"
    assert officer_id_for("!!!") == "can-bo"


def test_the_tablets_own_officer_must_be_active(demo_tree):
    from tests.conftest import ROOT

    demo_tree["attribution"] = {"mode": "officer", "officer": "hoang-thi-mai"}
    for officer in demo_tree["officers"]:
        if officer["id"] == "hoang-thi-mai":
            officer["active"] = False
    with pytest.raises(ConfigError) as caught:
        parse_settings(demo_tree, base_dir=ROOT)
    assert caught.value.path == "attribution.officer" and caught.value.problem == "officer_inactive"


def test_what_the_roster_decides_is_known():
    decided = {i.path for i in settings_panel.ITEMS if settings_panel.decided_by_roster(i)}
    expected = {"commune.name", "rating.scale", "reasons.low", "working_hours.mon", "timeouts.thanks", "language"}
    assert expected <= decided
    assert not decided & {"counter.id", "attribution.mode", "server.url", "display.orientation"}
