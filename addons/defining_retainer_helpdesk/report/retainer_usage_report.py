from odoo import fields, models
from odoo.tools import SQL


class RetainerUsageReport(models.Model):
    _inherit = "retainer.usage.report"

    # The ticket of the timesheet behind the entry (a reversal keeps its
    # debit's timesheet): incidents (distinct tickets) and units per ticket,
    # customer and month.
    ticket_id = fields.Many2one(
        "helpdesk.ticket", readonly=True, aggregator="count_distinct"
    )

    def _select(self):
        return SQL("%s, tsl.ticket_id AS ticket_id", super()._select())

    def _from(self):
        return SQL(
            "%s LEFT JOIN account_analytic_line tsl ON tsl.id = e.timesheet_id",
            super()._from(),
        )
