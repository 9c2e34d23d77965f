"""Values only the server decides: the units an order line credits, when an
order's units become usable, whether an order is charged off session, the
overdraft an invoice gives back...

Pure Python on purpose (no Odoo import), tested without a database.

``readonly=True`` only hides a field in the web client: through RPC,
``create()`` and ``write()`` still take it. The rule is therefore kept by
the models themselves: a value a client sends for one of these fields is
**dropped**, and the field keeps (or gets) the value the server computes.
Only server code sets them, inside ``server_values()``. The switch is a
context variable of the running thread, not a context key: a context is the
client's to send with any call, a context variable is not.
"""

import contextvars
from contextlib import contextmanager

_SERVER_VALUES = contextvars.ContextVar("retainer_server_values", default=False)


@contextmanager
def server_values():
    """Within this block, the code of this thread may set the fields that
    only the server decides. Keep the block around the one ``create()`` or
    ``write()`` of server-built values, never around values a client sent."""
    token = _SERVER_VALUES.set(True)
    try:
        yield
    finally:
        _SERVER_VALUES.reset(token)


def server_values_allowed():
    """Whether the running code is inside ``server_values()``."""
    return _SERVER_VALUES.get()


def drop_server_fields(vals, server_fields):
    """Return ``vals`` without the keys in ``server_fields`` (the same dict
    when it has none of them), and the names that were dropped.

    :param dict vals: values for ``create()`` or ``write()``.
    :param frozenset server_fields: names of the fields only the server sets.
    :returns: ``(vals, dropped)``, ``dropped`` a sorted list of names.
    """
    if server_fields.isdisjoint(vals):
        return vals, []
    dropped = sorted(server_fields.intersection(vals))
    return {
        key: value for key, value in vals.items() if key not in server_fields
    }, dropped
