"""Editing the roster on the server (the dashboard's roster pages stand on
this): officers with Vietnamese names, PINs, uploaded portraits, counters and
commune-wide settings, each change checked with the tablets' own rules and
reaching a paired tablet through the roster sync."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from kiosk.link.credentials import load_credentials, pin_key
from kiosk.link.roster import RosterSync, roster_directory
from kiosk.link.transport import ServerLink
from kiosk.roster import settings_with_roster
from server import roster as editing
from server.roster import PORTRAIT_SIDE, RosterError, RosterStore
from sync.pin import verify_pin
from tests.sync_support import Commune, Tablet, roster_file


def _picture(width: int, height: int, fmt: str = "PNG", orientation: int | None = None) -> bytes:
    """A picture with a red left half and a blue right half."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def test_a_portrait_is_upright_square_and_resized() -> None:
    content, content_type = editing.portrait_from_upload(_picture(1200, 800))
    assert content_type == "image/jpeg"
    picture = Image.open(io.BytesIO(content))
    assert picture.size == (PORTRAIT_SIDE, PORTRAIT_SIDE)
    # The centre square of a red|blue picture is still red on the left, blue on the right.
    assert picture.getpixel((10, 256))[0] > 200 and picture.getpixel((500, 256))[2] > 200


def test_a_crop_box_picks_the_part_shown() -> None:
    content, _ = editing.portrait_from_upload(_picture(1200, 800), crop=(0, 0, 600))
    picture = Image.open(io.BytesIO(content))
    assert picture.getpixel((500, 256))[0] > 200  # all red: the left half only


def test_a_phone_photo_taken_sideways_is_turned_upright() -> None:
    # EXIF orientation 6: the camera was turned; the stored pixels are rotated.
    content, _ = editing.portrait_from_upload(_picture(800, 600, "JPEG", orientation=6))
    picture = Image.open(io.BytesIO(content))
    # Upright, the red half is on top.
    assert picture.getpixel((256, 10))[0] > 200 and picture.getpixel((256, 500))[2] > 200


@pytest.mark.parametrize(
    ("data", "crop"),
    [(b"not a picture", None), (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, None), (_picture(300, 300), (200, 200, 200))],
)
def test_an_unusable_upload_is_refused_clearly(data: bytes, crop: tuple | None) -> None:
    with pytest.raises(RosterError) as refused:
        editing.portrait_from_upload(data, crop)
    assert str(refused.value).startswith("photo:")


def test_an_empty_roster_is_not_published_until_it_can_serve(tmp_path: Path) -> None:
    with Commune(tmp_path) as commune:
        store = RosterStore(commune.engine)
        tree, portraits = store.editable()
        assert tree["officers"] == [] and store.current() is None
        editing.set_commune(tree, "UBND xã Tân Phú", "0912 000 111")
        with pytest.raises(RosterError, match="counters"):
            store.publish(tree, portraits)
        editing.save_counter(tree, None, "Quầy số 1")
        with pytest.raises(RosterError, match="officers"):
            store.publish(tree, portraits)
        officer = editing.save_officer(tree, None, name="Đỗ Thị Ngọc Ánh", title="Công chức Văn phòng")
        document = store.publish(tree, portraits)
    assert officer == "do-thi-ngoc-anh"
    assert document["counters"] == [{"id": "quay-so-1", "name": "Quầy số 1"}]
    assert document["commune"] == {"name": "UBND xã Tân Phú", "hotline": "0912 000 111", "leaders": ""}


def test_two_edits_read_at_one_moment_do_not_lose_one_another(tmp_path: Path) -> None:
    """Two admins' saves in the same instant: each read the roster, changed
    one officer and published the whole. The second is refused, with words
    of its own, instead of silently undoing the first."""
    from server.i18n import translator
    from server.web.roster import problem_text

    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        store = RosterStore(commune.engine)
        store.import_file(roster_file(tablet))
        first_tree, first_portraits, read_at = store.editable_at()
        second_tree, second_portraits, also_read_at = store.editable_at()
        assert read_at == also_read_at == store.current()[1]
        officers = [o["id"] for o in first_tree["officers"]]
        editing.save_officer(first_tree, officers[0], name="Nguyễn Thị Lan Anh", title="Công chức")
        editing.save_officer(second_tree, officers[1], name="Trần Văn Bình", title="Phó Chủ tịch")
        store.publish(first_tree, first_portraits, based_on=read_at)
        published = store.current()
        with pytest.raises(RosterError) as refused:
            store.publish(second_tree, second_portraits, based_on=also_read_at)
        assert refused.value.problem == "changed_meanwhile"
        assert store.current() == published  # the first change stands
        names = {o["id"]: o["name"] for o in json.loads(published[0])["officers"]}
        assert names[officers[0]] == "Nguyễn Thị Lan Anh"
        assert problem_text(translator("vi"), refused.value) == (
            "vừa có người khác lưu một thay đổi vào danh sách cùng lúc; thay đổi của bạn chưa được lưu, "
            "vui lòng làm lại")
        # Made again over what is there now, the second change is kept beside the first.
        second_tree, second_portraits, read_at = store.editable_at()
        editing.save_officer(second_tree, officers[1], name="Trần Văn Bình", title="Phó Chủ tịch")
        store.publish(second_tree, second_portraits, based_on=read_at)
        names = {o["id"]: o["name"] for o in json.loads(store.current()[0])["officers"]}
        assert names[officers[0]] == "Nguyễn Thị Lan Anh" and names[officers[1]] == "Trần Văn Bình"
        # A first roster made over "none" is refused once one exists.
        with pytest.raises(RosterError, match="changed"):
            store.publish(second_tree, second_portraits, based_on="")
        tablet.close()


def test_an_edit_that_breaks_a_rule_is_refused_and_the_roster_kept(tmp_path: Path) -> None:
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        store = RosterStore(commune.engine)
        store.import_file(roster_file(tablet))
        before = store.current()
        tree, portraits = store.editable()
        editing.save_officer(tree, "nguyen-thi-lan", name="  ", title="Công chức")
        with pytest.raises(RosterError, match=r"officers\[0\]\.name"):
            store.publish(tree, portraits)
        tree, portraits = store.editable()
        editing.set_setting(tree, "rating", "scale", 7)
        with pytest.raises(RosterError, match="rating.scale"):
            store.publish(tree, portraits)
        with pytest.raises(RosterError):
            editing.set_setting(tree, "server", "url", "http://elsewhere")
        with pytest.raises(RosterError):
            editing.set_officer_pin(tree, "nguyen-thi-lan", "12")
        tree, portraits = store.editable()
        editing.save_officer(tree, "nguyen-thi-lan", name="Nguyễn Thị Lan", title="Công chức", counter="quay-9")
        with pytest.raises(RosterError, match=r"officers\[0\]\.counter"):
            store.publish(tree, portraits)
        assert store.current() == before
        tablet.close()


def test_an_officer_added_on_the_server_reaches_a_paired_tablet(tmp_path: Path) -> None:
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        store = RosterStore(commune.engine)
        store.import_file(roster_file(tablet))
        sync = RosterSync(roster_directory(tablet.db_path),
                          ServerLink(commune.url, load_credentials(tablet.store.device_secret_path)))
        first = sync.fetch()
        kept = {o["id"]: o["photo"]["sha256"] for o in first["officers"]}

        tree, portraits = store.editable()
        new_id = editing.save_officer(tree, None, name="Đặng Thị Hồng Nhung", title="Công chức Tư pháp - Hộ tịch",
                                      counter="quay-2")
        editing.set_officer_pin(tree, new_id, "97531")
        portraits[new_id] = editing.portrait_from_upload(_picture(900, 1200))
        editing.set_setting(tree, "rating", "scale", 5)
        store.publish(tree, portraits)

        roster = sync.fetch()
        assert roster is not None
        officers = {o["id"]: o for o in roster["officers"]}
        added = officers[new_id]
        assert added["name"] == "Đặng Thị Hồng Nhung"
        # The verifier arrives keyed to this tablet's secret (sync.pin.key_pin_hash).
        key = pin_key(tablet.store.device_secret_path)
        assert verify_pin("97531", added["pin_hash"], key) and not verify_pin("97530", added["pin_hash"], key)
        photo = Path(added["photo_file"]).read_bytes()
        assert hashlib.sha256(photo).hexdigest() == added["photo"]["sha256"]
        assert Image.open(io.BytesIO(photo)).size == (PORTRAIT_SIDE, PORTRAIT_SIDE)
        # Untouched officers keep their very portraits.
        assert {oid: officers[oid]["photo"]["sha256"] for oid in kept} == kept

        settings = settings_with_roster(tablet.settings, roster)
        assert settings.scale == 5
        assert settings.officer(new_id).name == "Đặng Thị Hồng Nhung"
        assert settings.officer(new_id).photo is not None
        assert settings.officer(new_id).counter == "quay-2"
        # A counter taken off the roster takes the officer's link with it.
        tree, portraits = store.editable()
        editing.remove_counter(tree, "quay-2")
        published = store.publish(tree, portraits)
        assert next(o for o in published["officers"] if o["id"] == new_id)["counter"] is None
        tablet.close()


def test_the_tree_round_trips_through_the_served_document(tmp_path: Path) -> None:
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        store = RosterStore(commune.engine)
        document = store.import_file(roster_file(tablet))
        tree, portraits = store.editable()
        again = store.publish(tree, portraits)
        assert json.dumps(again, sort_keys=True) == json.dumps(document, sort_keys=True)
        tablet.close()


def test_the_comment_qr_code_points_at_the_servers_public_address(tmp_path: Path) -> None:
    """A LAN name is not reachable from a citizen's phone: the server's
    ``--public-url`` travels with the roster and the tablet's QR code uses it."""
    with Commune(tmp_path, public_url="https://hailong.phuonghoabinh.vn/") as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(roster_file(tablet))
        sync = RosterSync(roster_directory(tablet.db_path),
                          ServerLink(commune.url, load_credentials(tablet.store.device_secret_path)))
        roster = sync.fetch()
        assert roster["public_url"] == "https://hailong.phuonghoabinh.vn"
        assert sync.fetch() is None  # the ETag covers the address: unchanged is still 304
        rating = tablet.rate(1)[0]
        before = tablet.desk.comment_url(rating)
        assert before.startswith(f"{commune.url}/c/{rating.uuid}?t=")
        tablet.desk.settings = settings_with_roster(tablet.settings, roster)
        assert tablet.desk.comment_url(rating) == (
            f"https://hailong.phuonghoabinh.vn/c/{rating.uuid}?t={rating.comment_token}")
        tablet.close()
