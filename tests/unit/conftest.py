"""Unit tests have no server and no database: each gets a short timeout."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
UNIT_TEST_TIMEOUT = 60


def pytest_collection_modifyitems(items):
    for item in items:
        # pytest.ini's default (300 s) is sized for the e2e tests.
        if item.path.is_relative_to(HERE) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(UNIT_TEST_TIMEOUT))
