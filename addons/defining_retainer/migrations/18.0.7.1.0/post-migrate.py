"""18.0.7.1.0 does two things once, below the ORM (entries stay append-only
for people and code):

- An incident rounded once keeps the rounding policy of its first debit
  (``retainer.ledger.entry.rounding_policy``, e.g. ``grace/15/5/1``), as it
  keeps its scope. The incident debits posted before the policy was named
  get their retainer's policy now: the one they were re-targeted with so
  far.
- Checkpoints of the allocation replay, version 2: they also keep, per
  block, the work it paid by date and what a block credited after work
  could not pay for (``tools/allocation.py``). Older checkpoints are not
  read: they are replaced by new ones, written from one replay of each
  ledger, so that reading a retainer's blocks does not replay its whole
  ledger until its next postings write one."""

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

from odoo.addons.defining_retainer.tools.allocation import CHECKPOINT_VERSION


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            "UPDATE retainer_ledger_entry e SET rounding_policy = "
            "c.rounding_method || '/' || c.rounding_unit_minutes || '/' || "
            "c.rounding_grace_minutes || '/' || c.rounding_min_units "
            "FROM retainer_contract c WHERE e.contract_id = c.id "
            "AND e.rounding_scope = 'incident' AND e.rounding_policy IS NULL"
        )
    )
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
