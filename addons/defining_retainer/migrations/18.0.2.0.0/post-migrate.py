"""Blocks: every existing credit becomes a block without expiry.

Credits already carry an empty ``expiry_date``, and the allocation of debits
to blocks is replayed from the ledger, so no entry changes and no balance
moves. What is filled here: the stored ``effective_kind`` of every entry (a
reversal's is the kind it reverses), ``is_block`` (credits and positive
adjustments), and the overdraft notification marker
of warned retainers that are overdrawn today (they were notified when they
crossed zero; the marker keeps them from being notified again).
"""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            "UPDATE retainer_ledger_entry "
            "SET effective_kind = COALESCE(reversed_kind, kind), "
            "is_block = (kind = 'credit' OR (kind = 'adjustment' AND units > 0)) "
            "WHERE effective_kind IS NULL"
        )
    )
    cr.execute(
        SQL(
            "UPDATE retainer_contract c SET overdraft_notified = TRUE "
            "WHERE c.overdraft_policy = 'warn' AND (SELECT COALESCE(sum(units), 0) "
            "FROM retainer_ledger_entry e WHERE e.contract_id = c.id) < 0"
        )
    )
