"""18.0.8.2.0: the ledger's entries are no longer indexed on their retainer
alone. The index on ``(contract_id, id)`` serves every read by retainer, and
the entries after a checkpoint are read as a range of it: with the other
index there, the planner read the retainer's whole ledger through it and
filtered the entries after the checkpoint (the ORM keeps an index a field
no longer asks for: it is dropped here)."""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(SQL("DROP INDEX IF EXISTS retainer_ledger_entry__contract_id_index"))
