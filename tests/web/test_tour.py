"""The dashboard's tour runs end to end and writes every picture it promises."""

from __future__ import annotations

import pytest

from tests.web.tour import expected_files, tour

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("web")]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_tour_saves_every_page_at_both_widths(tmp_path, browser):
    written = tour(tmp_path, browser)
    names = sorted(path.name for path in written)
    assert names == sorted(expected_files())
    assert sorted(path.name for path in tmp_path.glob("*.png")) == names
    for name in names:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        # A real page, not a blank or failed capture: a screenful of pixels compresses to far more than this.
        assert len(data) > 10_000, name
