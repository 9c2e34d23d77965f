import contextlib

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.res_company import TOPUP_DOCUMENT_SELECTION
from ..tools.units import quantity_to_units


class RetainerTopup(models.TransientModel):
    _name = "retainer.topup"
    _description = "Top up a retainer"

    contract_id = fields.Many2one("retainer.contract", required=True, readonly=True)
    company_id = fields.Many2one(related="contract_id.company_id")
    quantity = fields.Float(required=True, default=1.0, digits=(16, 2))
    unit = fields.Selection(
        [("day", "Days"), ("hour", "Hours")], required=True, default="day"
    )
    document = fields.Selection(
        TOPUP_DOCUMENT_SELECTION,
        string="Prepare",
        required=True,
        compute="_compute_document",
        store=True,
        readonly=False,
        precompute=True,
    )
    product_id = fields.Many2one("product.product", compute="_compute_product_id")
    units = fields.Integer(compute="_compute_product_id", string="Units credited")

    @api.depends("contract_id")
    def _compute_document(self):
        for wizard in self:
            wizard.document = wizard.company_id.retainer_topup_document or "quotation"

    @api.depends("contract_id", "unit", "quantity")
    def _compute_product_id(self):
        for wizard in self:
            product = self.env["product.product"]
            if wizard.unit and wizard.company_id:
                # No product for this unit leaves the field empty: the form
                # says so, and creating the document explains what to set.
                with contextlib.suppress(UserError):
                    product = wizard.company_id._retainer_product(wizard.unit)
            wizard.product_id = product
            # As the order line will credit them: the quotation sells the
            # product in its own unit of measure, rounded half up.
            wizard.units = quantity_to_units(
                wizard.quantity or 0.0, product.retainer_units
            )

    def action_create_document(self):
        """Prepare the quotation or draft invoice and open it."""
        self.ensure_one()
        if self.document == "invoice":
            record = self.contract_id._create_topup_invoice(self.quantity, self.unit)
        else:
            record = self.contract_id._create_topup_quotation(self.quantity, self.unit)
        return record._get_records_action(name=record.display_name)
