"""The switch that lets server code, and only it, set the fields that
decide units, money or charging (``tools/server_values.py``), without Odoo:
the module is loaded by file path."""

import importlib.util
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

SERVER_VALUES_PY = (
    Path(__file__).resolve().parents[2]
    / "addons"
    / "defining_retainer"
    / "tools"
    / "server_values.py"
)


def _load():
    spec = importlib.util.spec_from_file_location(
        "retainer_server_values", SERVER_VALUES_PY
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sv = _load()
SERVER_FIELDS = frozenset({"units", "trigger"})


def test_off_by_default_and_on_inside_the_block_only():
    assert not sv.server_values_allowed()
    with sv.server_values():
        assert sv.server_values_allowed()
        with sv.server_values():  # nested blocks
            assert sv.server_values_allowed()
        assert sv.server_values_allowed()
    assert not sv.server_values_allowed()


def test_off_again_after_an_error_in_the_block():
    with pytest.raises(ZeroDivisionError), sv.server_values():
        1 / 0  # noqa: B018
    assert not sv.server_values_allowed()


def test_another_thread_never_sees_the_switch():
    """A request served by another thread (a client's) is never inside
    the block of this one."""
    seen = []
    with sv.server_values():
        thread = threading.Thread(
            target=lambda: seen.append(sv.server_values_allowed())
        )
        thread.start()
        thread.join()
    assert seen == [False]


def test_drop_returns_the_same_dict_when_nothing_is_dropped():
    vals = {"name": "x"}
    kept, dropped = sv.drop_server_fields(vals, SERVER_FIELDS)
    assert kept is vals
    assert dropped == []


@given(
    st.dictionaries(
        st.sampled_from(["units", "trigger", "name", "qty", "date"]),
        st.integers(),
    )
)
def test_drop_keeps_exactly_the_other_fields(vals):
    original = dict(vals)
    kept, dropped = sv.drop_server_fields(vals, SERVER_FIELDS)
    assert kept == {k: v for k, v in original.items() if k not in SERVER_FIELDS}
    assert dropped == sorted(SERVER_FIELDS & original.keys())
    assert vals == original  # the caller's dict is never changed
