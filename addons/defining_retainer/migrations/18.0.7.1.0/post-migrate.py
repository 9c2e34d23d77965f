"""An incident rounded once keeps the rounding policy of its first debit
(``retainer.ledger.entry.rounding_policy``, e.g. ``grace/15/5/1``), as it
keeps its scope. The incident debits posted before the policy was named get
their retainer's policy now: the one they were re-targeted with so far.
Entries are append-only for people and code; this fills an empty column
once, below the ORM."""

from odoo.tools import SQL


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
