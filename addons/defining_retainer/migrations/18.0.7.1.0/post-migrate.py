"""Checkpoints of the allocation replay, version 2: they also keep, per
block, the work it paid by date and what a block credited after work could
not pay for (``tools/allocation.py``). Older checkpoints are not read: they
are replaced by new ones, written from one replay of each ledger, so that
reading a retainer's blocks does not replay its whole ledger until its next
postings write one."""

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

from odoo.addons.defining_retainer.tools.allocation import CHECKPOINT_VERSION


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            "DELETE FROM retainer_ledger_checkpoint "
            "WHERE (state->>'version')::int IS DISTINCT FROM %s "
            "RETURNING contract_id",
            CHECKPOINT_VERSION,
        )
    )
    contract_ids = sorted({contract_id for (contract_id,) in cr.fetchall()})
    if contract_ids:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["retainer.ledger.entry"]._retainer_write_checkpoints(contract_ids)
