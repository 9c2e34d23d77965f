from odoo import api, fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    retainer_id = fields.Many2one(
        "retainer.contract",
        compute="_compute_retainer_id",
        help="Retainer this line tops up (or whose overdraft it bills).",
    )

    @api.depends(
        "sale_line_ids.order_id.retainer_id",
        "sale_line_ids.retainer_product_units",
        "move_id.retainer_overdraft_id",
        "display_type",
    )
    def _compute_retainer_id(self):
        for line in self:
            sale_lines = line.sale_line_ids.filtered("retainer_product_units")
            line.retainer_id = sale_lines.order_id.retainer_id[:1] or (
                line.display_type == "product" and line.move_id.retainer_overdraft_id
            )

    def _retainer_overdraft_hours(self, contract):
        """Return the hours each of these overdraft invoice lines bills, in
        order: a Working Time quantity by ``contract``'s day (a Day is the
        retainer's day); a quantity in Units is hours, as overdrafts are
        invoiced in hours.

        :raises ValidationError: a line's unit measures neither.
        """
        return [
            line.quantity
            * line.product_uom_id._retainer_size(contract.day_hours, line.product_id)
            for line in self
        ]
