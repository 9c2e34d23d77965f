from odoo import api, fields, models
from odoo.exceptions import ValidationError


class AccountMoveLine(models.Model):
    _name = "account.move.line"
    _inherit = ["account.move.line", "retainer.server.values.mixin"]

    # Which lines the revenue job recognises: recorded by the server as the
    # invoice is posted.
    _retainer_server_fields = frozenset({"retainer_deferred"})

    retainer_id = fields.Many2one(
        "retainer.contract",
        compute="_compute_retainer_id",
        help="Retainer this line tops up (or whose overdraft it bills).",
    )
    retainer_deferred = fields.Boolean(
        string="Deferred retainer revenue",
        readonly=True,
        copy=False,
        help="Posted to the deferred revenue account: the revenue of the "
        "units it paid is recognised as they are used or expire.",
        groups="base.group_user",
    )

    retainer_credit_text = fields.Char(
        string="Retainer credit",
        compute="_compute_retainer_credit_text",
        help="What the line credits to the retainer: its units and the time "
        "they stand for.",
    )

    @api.depends("quantity", "product_uom_id", "sale_line_ids.retainer_product_units")
    def _compute_retainer_credit_text(self):
        for line in self:
            sale_line = line.sale_line_ids.filtered("retainer_product_units")[:1]
            text = False
            if sale_line and line.product_uom_id:
                try:
                    qty = sale_line._retainer_qty_in_line_uom(
                        line.quantity, line.product_uom_id
                    )
                except ValidationError:
                    qty = None
                if qty is not None:
                    text = sale_line._retainer_credit_text(qty)
            line.retainer_credit_text = text

    @api.depends(
        "sale_line_ids.retainer_product_units", "move_id.retainer_overdraft_id"
    )
    def _compute_account_id(self):  # pylint: disable=missing-return
        super()._compute_account_id()
        # Prepaid time is owed until it is used: a company that defers
        # retainer revenue books the lines that top up a retainer to its
        # deferred revenue account. Overdraft invoices bill work already
        # done: revenue at once.
        for line in self._retainer_deferrable_lines():
            line.account_id = line.company_id.retainer_deferred_account_id

    def _retainer_deferrable_lines(self):
        """Product lines of customer invoices and credit notes that top up a
        retainer, in companies that defer retainer revenue."""
        return self.filtered(
            lambda line: (
                line.display_type == "product"
                and line.company_id.retainer_defer_revenue
                and line.company_id.retainer_deferred_account_id
                and line.move_id.move_type in ("out_invoice", "out_refund")
                and not line.move_id.retainer_overdraft_id
                and line.sale_line_ids.filtered("retainer_product_units")
            )
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
