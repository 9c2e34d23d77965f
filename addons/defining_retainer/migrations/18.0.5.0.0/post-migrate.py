"""Every ledger entry gets a description: entries posted without one (a
manager's credit or adjustment, a timesheet logged without a description,
their reversals) get what new entries get when they are posted (see
``retainer.ledger.entry._retainer_fill_names``). Entries are append-only
for people and code; this fills an empty column once, below the ORM."""

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

UNNAMED = SQL("COALESCE(btrim(name, E'/ \\t\\n'), '') = ''")


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    Ledger = env["retainer.ledger.entry"]
    cr.execute(
        SQL(
            "SELECT id, kind, reason, timesheet_id, project_id "
            "FROM retainer_ledger_entry WHERE %s AND reversed_entry_id IS NULL",
            UNNAMED,
        )
    )
    vals_list = [
        {
            "id": row_id,
            "kind": kind,
            "reason": reason,
            "timesheet_id": timesheet_id,
            "project_id": project_id,
        }
        for row_id, kind, reason, timesheet_id, project_id in cr.fetchall()
    ]
    Ledger._retainer_fill_names(vals_list)
    if vals_list:
        cr.execute(
            SQL(
                "UPDATE retainer_ledger_entry e SET name = t.name "
                "FROM unnest(%s::int[], %s::varchar[]) AS t(id, name) "
                "WHERE e.id = t.id",
                [vals["id"] for vals in vals_list],
                [vals["name"] for vals in vals_list],
            )
        )
    # A reversal repeats the description of the entry it reverses, as new
    # reversals do.
    cr.execute(
        SQL(
            "UPDATE retainer_ledger_entry r SET name = e.name "
            "FROM retainer_ledger_entry e "
            "WHERE r.reversed_entry_id = e.id AND %s",
            SQL("COALESCE(btrim(r.name, E'/ \\t\\n'), '') = ''"),
        )
    )
    Ledger.invalidate_model(["name"])
