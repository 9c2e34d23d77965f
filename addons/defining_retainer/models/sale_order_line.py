from odoo import models
from odoo.osv import expression


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    def _timesheet_compute_delivered_quantity_domain(self):
        # Time consumed from a retainer is paid by the retainer: it never
        # counts as delivered on an order line too.
        return expression.AND(
            [
                super()._timesheet_compute_delivered_quantity_domain(),
                [("retainer_id", "=", False)],
            ]
        )
