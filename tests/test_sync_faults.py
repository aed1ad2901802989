"""10,000 ratings through a link that fails a third of the requests in every
way a commune network does: they arrive exactly once, in order, chain intact."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.store import tables
from sync.record import verify_chain
from tests.sync_support import Commune, FaultProxy, Tablet, server_records


@pytest.mark.slow  # 10,000 ratings through the fault proxy
def test_ten_thousand_ratings_through_a_failing_link_arrive_exactly_once(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        tablet.rate(10_000)
        details = tablet.desk.add_details(tablet.store.ratings()[-1], ["waited_long"])
        with FaultProxy(commune.server.port, failure_rate=0.4, stall_s=1.0) as proxy:
            uploader = tablet.uploader(batch_size=100, timeout=(0.5, 0.5))
            uploader.server_url = proxy.url
            status = uploader.run_once(max_attempts=50)
        assert status.pending == 0, status
        assert tablet.store.pending_count() == 0
        # The link really failed at least 30% of the requests, in every way.
        assert proxy.failed / proxy.total >= 0.3, proxy.counts
        assert set(proxy.counts) >= {"drop", "stall", "500", "502", "503", "503-retry-after",
                                     "lose-answer", "committed-502", "truncate"}, proxy.counts

        with commune.engine.begin() as conn:
            findings = conn.execute(select(tables.findings)).all()
        received = server_records(commune, tablet.store.device_id)
        assert len(received) == 10_001 == len({r.uuid for r in received})
        assert [r.seq for r in received] == list(range(1, 10_002))
        assert verify_chain(received) == []
        assert received[-1].uuid == details.uuid
        assert findings == []
        assert {a["status"] for a in tablet.store.acks()} <= {"stored", "duplicate"}
        tablet.close()
