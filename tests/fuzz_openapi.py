"""The OpenAPI fuzz, run by tests/test_server_api.py in its own interpreter.

Schemathesis generates requests from the live server's /openapi.json; none may
be answered with a 500. A longer run:
HAILONG_FUZZ_EXAMPLES=2000 python -m pytest -o addopts= tests/fuzz_openapi.py
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.sync_support import Commune, Tablet

FUZZ_EXAMPLES = int(os.environ.get("HAILONG_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server and one paired tablet for the whole run."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with Commune(tmp) as commune:
        tablet = Tablet(tmp / "tablet", commune.url)
        tablet.pair(commune)
        yield commune, tablet
        tablet.close()


@pytest.fixture(scope="module")
def api_schema(live):
    return schemathesis.openapi.from_url(f"{live[0].url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow  # the OpenAPI fuzz
@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz_openapi_never_a_500(case):
    """Schemathesis generates requests from /openapi.json; none may be a 500."""
    case.call_and_validate(checks=[not_a_server_error], timeout=10)
