from odoo import fields, models


class RetainerDeferredRevenueReportLine(models.TransientModel):
    """One sold retainer line in the deferred revenue report."""

    _name = "retainer.deferred.revenue.report.line"
    _description = "Deferred Retainer Revenue Line"
    _order = "partner_id, contract_id, sale_line_id"

    report_id = fields.Many2one(
        "retainer.deferred.revenue.report", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="report_id.company_id")
    currency_id = fields.Many2one(related="report_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Customer")
    contract_id = fields.Many2one("retainer.contract", string="Retainer")
    sale_line_id = fields.Many2one("sale.order.line", string="Sold line")
    order_id = fields.Many2one(related="sale_line_id.order_id", string="Order")
    block_entry_id = fields.Many2one("retainer.ledger.entry", string="Manual block")
    paid_units = fields.Integer(aggregator="sum")
    remaining_units = fields.Integer(aggregator="sum")
    unit_value = fields.Monetary(aggregator=None)
    paid_value = fields.Monetary(string="Paid (untaxed)", aggregator="sum")
    unearned_value = fields.Monetary(
        string="Unearned value",
        aggregator="sum",
        help="Remaining units × their value at the date.",
    )
    used_value = fields.Monetary(
        string="Used in period", aggregator="sum", help="Value of units used."
    )
    expired_value = fields.Monetary(
        string="Expired in period", aggregator="sum", help="Value of units expired."
    )
    recognized_value = fields.Monetary(string="Recognised to date", aggregator="sum")
    unrecognized_value = fields.Monetary(
        string="Earned, not recognised yet",
        aggregator="sum",
        help="Used or expired value the recognition runs up to the date have "
        "not posted yet.",
    )
