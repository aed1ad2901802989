"""Changing config.yaml from the technician's panel: every change is checked
with the start-up rules before it is written, written atomically with the
comments kept, and read back the same after a restart."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from kiosk.config import ConfigError, load_settings
from kiosk.config_file import PORTRAIT_SIZE, ConfigFile, RosterLocked
from kiosk.i18n import LANGUAGES
from kiosk.pin import verify_pin
from tests.conftest import ROOT


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The shipped config.yaml, comments and all, with the demo portraits beside it."""
    shutil.copytree(ROOT / "assets" / "portraits", tmp_path / "assets" / "portraits")
    path = tmp_path / "config.yaml"
    shutil.copyfile(ROOT / "config.yaml", path)
    return path


def _comments(text: str) -> list[str]:
    return [m.group(0).strip() for m in re.finditer(r"#.*", text)]


def _make_picture(path: Path, size: tuple[int, int], orientation: int | None = None) -> Path:
    image = Image.new("RGB", size, (200, 30, 30))
    # A band along the top marks which way is up.
    for x in range(size[0]):
        for y in range(max(1, size[1] // 10)):
            image.putpixel((x, y), (0, 0, 255))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(path, "JPEG", exif=exif.tobytes())
    return path


# -- settings ------------------------------------------------------------------


def test_a_change_is_written_and_survives_a_restart(config: Path) -> None:
    changes = {
        "commune.name": "UBND xã Tân Lập",
        "counter.name": "Quầy số 2 — Địa chính",
        "attribution.mode": "counter",
        "rating.scale": 5,
        "reasons.low": ["waited_long", "extra_money"],
        "working_hours.mon": ["08:00-11:00", "14:00-17:30"],
        "working_hours.enforce": True,
        "timeouts.thanks": 15,
        "language": "en",
        "display.orientation": "portrait",
        "server.url": "https://hailong.tanlap.gov.vn",
    }
    returned = ConfigFile(config).set_values(changes)
    reloaded = load_settings(config)  # what the kiosk reads at its next start
    for settings in (returned, reloaded):
        assert settings.commune_name == "UBND xã Tân Lập"
        assert settings.counter_name == "Quầy số 2 — Địa chính"
        assert settings.mode == "counter"
        assert settings.scale == 5
        assert [r.id for r in settings.low_reasons] == ["waited_long", "extra_money"]
        assert [(f"{a:%H:%M}", f"{b:%H:%M}") for a, b in settings.working_hours.sessions["mon"]] == [
            ("08:00", "11:00"),
            ("14:00", "17:30"),
        ]
        assert settings.working_hours.enforce is True
        assert settings.timeouts.thanks == 15
        assert settings.language == "en"
        assert settings.orientation == "portrait"
        assert settings.server_url == "https://hailong.tanlap.gov.vn"
    assert returned == reloaded
    # What was not changed stays as it was.
    shipped = load_settings(ROOT / "config.yaml")
    assert [(o.id, o.name, o.pin_hash) for o in reloaded.officers] == [
        (o.id, o.name, o.pin_hash) for o in shipped.officers
    ]
    assert reloaded.timeouts.rating == 45
    assert not list(config.parent.glob("*.tmp"))


def test_comments_and_layout_are_kept(config: Path) -> None:
    before = config.read_text(encoding="utf-8")
    ConfigFile(config).set_values(
        {"rating.scale": 4, "timeouts.thanks": 12,
         "working_hours.sat": ["08:00-11:00"], "working_hours.sun": ["08:00-10:00"]}
    )
    after = config.read_text(encoding="utf-8")
    assert _comments(after) == _comments(before)
    # The comment on the very line that changed is still on that line.
    assert re.search(r"^  scale: 4 +# 3: Rất hài lòng", after, re.M)
    # A one-line list stays on one line, its times quoted.
    assert 'sat: ["08:00-11:00"]' in after
    assert 'sun: ["08:00-10:00"]' in after  # a new day is written like its neighbours
    # Lines that were not touched are byte for byte the same.
    untouched = [line for line in before.splitlines() if not any(k in line for k in ("scale:", "thanks:", "sat:"))]
    kept = set(after.splitlines())
    changed = [line for line in untouched if line not in kept]
    assert [line for line in changed if not line.strip().startswith(("low:", "no_apology"))] == []


@pytest.mark.parametrize(
    ("changes", "path", "problem"),
    [
        ({"rating.scale": 6}, "rating.scale", "one_of"),
        ({"rating.scale": "5"}, "rating.scale", "one_of"),
        ({"working_hours.mon": ["25:00-26:00"]}, "working_hours.mon[0]", "bad_hours"),
        ({"working_hours.tue": ["11:30-07:30"]}, "working_hours.tue[0]", "bad_hours"),
        ({"server.url": "hailong.local"}, "server.url", "bad_url"),
        ({"attribution.mode": "kiosk"}, "attribution.mode", "one_of"),
        ({"attribution.mode": "officer"}, "attribution.officer", "missing"),
        ({"timeouts.thanks": 0}, "timeouts.thanks", "not_positive"),
        ({"commune.name": "   "}, "commune.name", "empty"),
        ({"commune.name": None}, "commune.name", "missing"),
        ({"reasons.low": ["waited_long", "bribe"]}, "reasons.low[1]", "unknown_reason"),
        ({"display.brightness": 80}, "display.brightness", "unknown_key"),
        ({"language": "fr"}, "language", "one_of"),
        ({"commune.hotline": "call us"}, "commune.hotline", "bad_phone"),
        # One good change and one bad: neither is written.
        ({"commune.name": "UBND xã Mới", "display.orientation": "sideways"}, "display.orientation", "one_of"),
        ({"rating.scale.size": 3}, "rating.scale", "wrong_type"),
    ],
)
def test_a_bad_value_is_refused_and_the_file_left_alone(config: Path, changes: dict, path: str, problem: str) -> None:
    before = config.read_bytes()
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config).set_values(changes)
    assert (caught.value.path, caught.value.problem) == (path, problem)
    # The message names the key, in both languages, with every value filled in.
    line = caught.value.line()
    assert path in line and "{" not in line
    assert config.read_bytes() == before
    assert not list(config.parent.glob("*.tmp"))


def test_none_empties_an_optional_key(config: Path) -> None:
    settings = ConfigFile(config).set_values({"server.url": None})
    assert settings.server_url == ""
    assert load_settings(config).server_url == ""
    # The key's comment goes nowhere.
    assert "# the commune server; the comment QR code points here" in config.read_text(encoding="utf-8")


def test_strings_that_look_like_other_things_stay_strings(config: Path) -> None:
    settings = ConfigFile(config).set_values({"commune.hotline": "0912 345 678", "counter.name": "no"})
    assert load_settings(config).hotline == "0912 345 678"
    assert settings.counter_name == load_settings(config).counter_name == "no"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        ConfigFile(tmp_path / "absent.yaml").set_values({"rating.scale": 3})
    assert caught.value.problem == "no_config"
    assert not (tmp_path / "absent.yaml").exists()


# -- PINs ----------------------------------------------------------------------------


def test_officer_pin_set_verifies(config: Path) -> None:
    settings = ConfigFile(config).set_officer_pin("tran-van-hung", "97531")
    for s in (settings, load_settings(config)):
        assert verify_pin("97531", s.officer("tran-van-hung").pin_hash)
        assert not verify_pin("2468", s.officer("tran-van-hung").pin_hash)
        assert verify_pin("2468", s.officer("nguyen-thi-lan").pin_hash)  # the others keep theirs


def test_technician_pin_set_verifies(config: Path) -> None:
    ConfigFile(config).set_technician_pin("8642")
    assert verify_pin("8642", load_settings(config).technician_pin_hash)
    assert not verify_pin("1357", load_settings(config).technician_pin_hash)


@pytest.mark.parametrize("bad_pin", ["12", "123456789", "12a4", "", "١٢٣٤"])
def test_a_bad_pin_is_refused(config: Path, bad_pin: str) -> None:
    before = config.read_bytes()
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config).set_officer_pin("tran-van-hung", bad_pin)
    assert caught.value.path == "officers[1].pin_hash"
    assert caught.value.problem == "bad_pin"
    with pytest.raises(ConfigError):
        ConfigFile(config).set_technician_pin(bad_pin)
    assert config.read_bytes() == before


def test_pin_for_unknown_officer_is_refused(config: Path) -> None:
    before = config.read_bytes()
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config).set_officer_pin("nobody", "1234")
    assert caught.value.problem == "no_such_officer"
    assert "nobody" in caught.value.line()
    assert config.read_bytes() == before


# -- the roster ----------------------------------------------------------------------


def test_add_officer_with_a_photo(config: Path, tmp_path: Path) -> None:
    photo = _make_picture(tmp_path / "camera.jpg", (2000, 1200))
    settings = ConfigFile(config).add_officer("do-van-nam", "Đỗ Văn Nam", "Công chức Địa chính", photo)
    stored = config.parent / "assets" / "portraits" / "do-van-nam.png"
    for s in (settings, load_settings(config)):
        officer = s.officer("do-van-nam")
        assert (officer.name, officer.title, officer.active) == ("Đỗ Văn Nam", "Công chức Địa chính", True)
        assert officer.photo == stored
        assert officer.pin_hash is None
    with Image.open(stored) as image:
        assert image.format == "PNG"
        assert max(image.size) == PORTRAIT_SIZE  # a camera photo is shrunk for the tablet
    assert photo.exists()  # the source (on the USB stick) is left alone
    assert not list(stored.parent.glob("*.tmp"))


def test_add_officer_without_a_photo_draws_one(config: Path) -> None:
    settings = ConfigFile(config).add_officer("do-van-nam", "Đỗ Văn Nam", "Công chức Địa chính", None)
    photo = settings.officer("do-van-nam").photo
    assert photo is not None and photo.is_file()
    with Image.open(photo) as image:
        assert image.format == "PNG"


def test_a_sideways_camera_photo_is_turned_upright(config: Path, tmp_path: Path) -> None:
    # Stored 400x200 with the tag "rotate 90° clockwise to view" (6): upright it is 200 wide, 400 tall.
    photo = _make_picture(tmp_path / "sideways.jpg", (400, 200), orientation=6)
    settings = ConfigFile(config).set_officer_photo("vu-ngoc-anh", photo)
    with Image.open(settings.officer("vu-ngoc-anh").photo) as image:
        assert image.size == (200, 400)


@pytest.mark.parametrize(
    ("officer_id", "name", "path", "problem"),
    [
        ("nguyen-thi-lan", "Nguyễn Thị Lan B", "officers[6].id", "duplicate"),
        ("Nguyen Van A", "Nguyễn Văn A", "officers[6].id", "slug"),
        ("nguyen-van-a", "  ", "officers[6].name", "empty"),
    ],
)
def test_add_officer_refused_leaves_everything_alone(
    config: Path, officer_id: str, name: str, path: str, problem: str
) -> None:
    before = config.read_bytes()
    portraits = config.parent / "assets" / "portraits"
    pictures_before = {p.name: p.read_bytes() for p in portraits.iterdir()}
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config).add_officer(officer_id, name, "Công chức", None)
    assert (caught.value.path, caught.value.problem) == (path, problem)
    assert config.read_bytes() == before
    # No portrait replaced (the duplicate's own one least of all), none added.
    assert {p.name: p.read_bytes() for p in portraits.iterdir()} == pictures_before


def test_a_file_that_is_not_a_picture_is_refused(config: Path, tmp_path: Path) -> None:
    fake = tmp_path / "portrait.jpg"
    fake.write_text("not a picture", encoding="utf-8")
    before = config.read_bytes()
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config).set_officer_photo("vu-ngoc-anh", fake)
    assert caught.value.path == "officers[5].photo"
    assert caught.value.problem == "not_image"
    assert "portrait.jpg" in caught.value.line()
    assert config.read_bytes() == before
    with pytest.raises(ConfigError) as caught:
        ConfigFile(config).set_officer_photo("vu-ngoc-anh", tmp_path / "absent.png")
    assert caught.value.problem == "no_file"


def test_deactivate_and_reactivate(config: Path) -> None:
    settings = ConfigFile(config).set_officer_active("le-thi-thu-ha", False)
    assert not settings.officer("le-thi-thu-ha").active
    assert "le-thi-thu-ha" not in [o.id for o in load_settings(config).active_officers]
    # Still on the roster: past ratings keep a name.
    assert load_settings(config).officer("le-thi-thu-ha").name == "Lê Thị Thu Hà"
    settings = ConfigFile(config).set_officer_active("le-thi-thu-ha", True)
    assert load_settings(config).officer("le-thi-thu-ha").active


def test_the_last_active_officer_cannot_be_deactivated(config: Path) -> None:
    ids = [o.id for o in load_settings(config).officers]
    file = ConfigFile(config)
    for officer_id in ids[:-1]:
        file.set_officer_active(officer_id, False)
    before = config.read_bytes()
    with pytest.raises(ConfigError) as caught:
        file.set_officer_active(ids[-1], False)
    assert caught.value.problem == "no_active_officer"
    assert config.read_bytes() == before


def test_a_locked_roster_is_read_only(config: Path, tmp_path: Path) -> None:
    before = config.read_bytes()
    file = ConfigFile(config)
    photo = _make_picture(tmp_path / "p.jpg", (64, 64))
    for attempt in (
        lambda: file.add_officer("do-van-nam", "Đỗ Văn Nam", "Công chức", None, roster_locked=True),
        lambda: file.set_officer_active("le-thi-thu-ha", False, roster_locked=True),
        lambda: file.set_officer_pin("le-thi-thu-ha", "1234", roster_locked=True),
        lambda: file.set_officer_photo("le-thi-thu-ha", photo, roster_locked=True),
    ):
        with pytest.raises(RosterLocked) as caught:
            attempt()
        for language in LANGUAGES:
            assert caught.value.message(language).strip()
        assert caught.value.message("vi") != caught.value.message("en")
    assert config.read_bytes() == before
    assert not (config.parent / "assets" / "portraits" / "do-van-nam.png").exists()
    # The technician's own PIN is not part of the roster.
    file.set_technician_pin("8642")


def test_new_problems_have_words_in_every_language(config: Path) -> None:
    for problem, values in (("bad_pin", {}), ("not_image", {"file": "a.jpg"})):
        error = ConfigError("officers[0].photo", problem, **values)
        for language in LANGUAGES:
            message = error.message(language)
            assert message and "{" not in message


def test_pin_command_keeps_its_errors_and_refuses_a_broken_file(config: Path) -> None:
    """``python -m kiosk.pin`` writes through ConfigFile: same errors as before,
    and a file that would not start the kiosk is not written to."""
    from kiosk.pin import hash_pin, set_pin_in_config

    stored = hash_pin("4321")
    with pytest.raises(KeyError):
        set_pin_in_config(config, stored, officer="nobody")
    with pytest.raises(FileNotFoundError):
        set_pin_in_config(config.parent / "absent.yaml", stored, officer=None)
    broken = config.read_text(encoding="utf-8").replace("scale: 3", "scale: 7")
    config.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        set_pin_in_config(config, stored, officer=None)
    assert caught.value.path == "rating.scale"
    assert config.read_text(encoding="utf-8") == broken
