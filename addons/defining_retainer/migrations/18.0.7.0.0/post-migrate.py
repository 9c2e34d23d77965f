"""Rounding per incident: every retainer and the company defaults keep
rounding each entry (the fields' default, ``entry``), and the timesheet
usage already posted names its incident and its scope, as new usage does
(``retainer.ledger.entry.incident_ref``, ``rounding_scope``): an incident
keeps the scope of its first debit, so time charged before never changes
price when a retainer later rounds per incident. Entries are append-only
for people and code; this fills empty columns once, below the ORM."""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            "UPDATE retainer_ledger_entry e SET rounding_scope = 'entry', "
            "incident_ref = CASE WHEN l.task_id IS NOT NULL "
            "THEN 'project.task,' || l.task_id "
            "ELSE 'account.analytic.line,' || l.id END "
            "FROM account_analytic_line l WHERE e.timesheet_id = l.id "
            "AND e.effective_kind = 'debit' AND e.rounding_scope IS NULL"
        )
    )
