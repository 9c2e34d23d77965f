import logging

from odoo import api, models

from ..tools.server_values import drop_server_fields, server_values_allowed

_logger = logging.getLogger(__name__)


class RetainerServerValuesMixin(models.AbstractModel):
    """Fields that decide units, money or charging are set by the server
    only (see ``tools/server_values.py``): what a client sends for them, on
    any ``create()`` or ``write()`` and whatever its rights, is dropped.

    A model lists them in ``_retainer_server_fields``. Its overrides that
    read or add such values drop the client's first
    (``_retainer_client_vals``), then call ``super()`` inside
    ``server_values()``; this mixin's own ``create()``/``write()``, below
    every override, drops whatever a path that did not do so still carries.
    """

    _name = "retainer.server.values.mixin"
    _description = "Fields only the server sets"

    # Names of this model's fields that only the server sets.
    _retainer_server_fields = frozenset()

    @api.model_create_multi
    def create(self, vals_list):
        return super().create(self._retainer_client_vals_list(vals_list))

    def write(self, vals):
        return super().write(self._retainer_client_vals(vals))

    @api.model
    def _retainer_client_vals_list(self, vals_list):
        """``_retainer_client_vals`` of each of ``vals_list``: the same
        list, untouched, inside ``server_values()`` or when no values name
        a server field (timesheets are created 10,000 at a time)."""
        server_fields = self._retainer_server_fields
        if server_values_allowed() or all(
            server_fields.isdisjoint(vals) for vals in vals_list
        ):
            return vals_list
        return [self._retainer_client_vals(vals) for vals in vals_list]

    @api.model
    def _retainer_client_vals(self, vals):
        """Return ``vals`` without the fields only the server sets, unless
        the running code is the server's own (``server_values()``)."""
        if server_values_allowed():
            return vals
        vals, dropped = drop_server_fields(vals, self._retainer_server_fields)
        if dropped:
            _logger.info(
                "Dropped client values of server-set fields %s of %s (user %s)",
                ", ".join(dropped),
                self._name,
                self.env.uid,
            )
        return vals
