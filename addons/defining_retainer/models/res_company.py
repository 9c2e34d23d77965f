from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

ROUNDING_METHOD_SELECTION = [
    ("grace", "Grace (drop a short remainder)"),
    ("up", "Always round up"),
    ("down", "Always round down"),
    ("nearest", "Nearest (half up)"),
]
OVERDRAFT_POLICY_SELECTION = [
    ("allow", "Allow"),
    ("warn", "Allow and warn"),
    ("block", "Block"),
]
CREDIT_TRIGGER_SELECTION = [
    ("confirm", "When the order is confirmed"),
    ("posted", "When the invoice is posted"),
    ("paid", "When the invoice is paid in full"),
]
TOPUP_DOCUMENT_SELECTION = [
    ("quotation", "Quotation"),
    ("invoice", "Draft invoice"),
]
OVERDRAFT_MODE_SELECTION = [
    ("invoice", "Invoice the overdraft"),
    ("net", "Net it against the next top-up"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    retainer_rounding_method = fields.Selection(
        ROUNDING_METHOD_SELECTION, default="grace", required=True
    )
    retainer_rounding_unit_minutes = fields.Integer(default=15, required=True)
    retainer_rounding_grace_minutes = fields.Integer(default=5, required=True)
    retainer_rounding_min_units = fields.Integer(default=1, required=True)
    retainer_day_hours = fields.Float(default=7.0, required=True)
    retainer_overdraft_policy = fields.Selection(
        OVERDRAFT_POLICY_SELECTION, default="warn", required=True
    )
    retainer_rollover_max_units = fields.Integer(
        help="Default for new retainers: when a block expires, up to this many "
        "of its unused units roll over into a new block (0: none)."
    )
    retainer_rollover_validity_months = fields.Integer(
        default=3,
        help="Default for new retainers: months a rolled-over block stays "
        "valid after the block it comes from expired (0: never expires).",
    )
    retainer_audit_required = fields.Boolean(
        help="New retainers start with an audit and health-check of the "
        "customer's IT estate, unless their level says otherwise."
    )
    # Selling and invoicing retainers.
    retainer_credit_trigger = fields.Selection(
        CREDIT_TRIGGER_SELECTION,
        default="confirm",
        required=True,
        help="When the units sold on an order become usable. Each order keeps "
        "the rule in force when it was confirmed.",
    )
    retainer_topup_document = fields.Selection(
        TOPUP_DOCUMENT_SELECTION, default="quotation", required=True
    )
    retainer_overdraft_mode = fields.Selection(
        OVERDRAFT_MODE_SELECTION, default="invoice", required=True
    )
    retainer_overdraft_auto_invoice = fields.Boolean(
        help="At the start of each month, invoice the overdrafts of the "
        "previous month (only when overdrafts are invoiced)."
    )
    retainer_day_product_id = fields.Many2one(
        "product.product",
        domain="[('retainer_units', '>', 0)]",
        help='Product sold by "Top up N days". Empty: the default Retainer day.',
    )
    retainer_hour_product_id = fields.Many2one(
        "product.product",
        domain="[('retainer_units', '>', 0)]",
        help='Product sold by "Top up N hours". Empty: the default Retainer hour.',
    )
    retainer_overage_product_id = fields.Many2one(
        "product.product",
        domain="[('type', '=', 'service'), ('retainer_units', '=', 0)]",
        help="Product invoiced, in hours, for an overdraft. Empty: the default "
        "Retainer overage hour.",
    )

    @api.constrains("retainer_rollover_max_units", "retainer_rollover_validity_months")
    def _check_retainer_rollover(self):
        for company in self:
            if (
                company.retainer_rollover_max_units < 0
                or company.retainer_rollover_validity_months < 0
            ):
                raise ValidationError(
                    self.env._(
                        "The rollover units and months of %(company)s cannot be "
                        "negative.",
                        company=company.name,
                    )
                )

    def _retainer_product(self, kind):
        """Return the product this company sells for ``kind`` ('day', 'hour'
        or 'overage'): the configured one, else the default data product.

        :raises UserError: when neither exists.
        """
        self.ensure_one()
        product = self[f"retainer_{kind}_product_id"] or self.env.ref(
            f"defining_retainer.product_retainer_{kind}", raise_if_not_found=False
        )
        if not product or not product.active:
            raise UserError(
                self.env._(
                    "No retainer %(kind)s product is set for %(company)s: choose "
                    "one in the Retainers settings.",
                    kind=kind,
                    company=self.name,
                )
            )
        return product
