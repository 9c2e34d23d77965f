"""Top-up origins: orders made for a recurring period are recurring
top-ups, every other order stays a sales order (portal requests made
before this version cannot be told apart); credits take their order's
origin, rollovers and overdraft credits their own, the rest is manual;
reversals take the origin of what they reverse."""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            """
            UPDATE sale_order
               SET retainer_topup_origin = CASE
                   WHEN retainer_recurring_period_start IS NOT NULL THEN 'recurring'
                   ELSE 'sale' END
             WHERE retainer_topup_origin IS NULL
            """
        )
    )
    cr.execute(
        SQL(
            """
            UPDATE retainer_ledger_entry e
               SET topup_origin = CASE
                   WHEN e.sale_line_id IS NOT NULL THEN (
                       SELECT o.retainer_topup_origin
                         FROM sale_order_line l
                         JOIN sale_order o ON o.id = l.order_id
                        WHERE l.id = e.sale_line_id)
                   WHEN e.block_entry_id IS NOT NULL THEN 'rollover'
                   WHEN e.invoice_id IS NOT NULL THEN 'overdraft'
                   ELSE 'manual' END
             WHERE e.kind = 'credit' AND e.topup_origin IS NULL
            """
        )
    )
    cr.execute(
        SQL(
            """
            UPDATE retainer_ledger_entry e
               SET topup_origin = r.topup_origin
              FROM retainer_ledger_entry r
             WHERE e.reversed_entry_id = r.id
               AND e.topup_origin IS NULL
               AND r.topup_origin IS NOT NULL
            """
        )
    )
