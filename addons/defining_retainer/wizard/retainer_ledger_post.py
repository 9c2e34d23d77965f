from odoo import fields, models


class RetainerLedgerPost(models.TransientModel):
    _name = "retainer.ledger.post"
    _description = "Post a manual retainer credit or adjustment"

    contract_id = fields.Many2one("retainer.contract", required=True, readonly=True)
    kind = fields.Selection(
        [("credit", "Credit (grant units)"), ("adjustment", "Adjustment (signed)")],
        required=True,
        default="credit",
    )
    units = fields.Integer(required=True)
    date = fields.Date(required=True, default=fields.Date.context_today)
    reason = fields.Text(required=True)
    expiry_date = fields.Date(
        help="Credits only: unused units of this block expire after this date."
    )
    company_id = fields.Many2one(related="contract_id.company_id")
    company_currency_id = fields.Many2one(related="company_id.currency_id")
    defer_revenue = fields.Boolean(related="company_id.retainer_defer_revenue")
    unit_value = fields.Monetary(
        string="Value per unit",
        currency_field="company_currency_id",
        help="Credits only, optional: what one unit of this credit is worth "
        "(e.g. a balance taken over from another system). The value is put "
        "on the deferred revenue account and recognised as the units are "
        "used or expire. Leave empty for goodwill that is worth nothing.",
    )
    value_account_id = fields.Many2one(
        "account.account",
        string="Value from account",
        check_company=True,
        help="Account debited with the credit's value (e.g. the opening "
        "balance account).",
    )

    def action_post(self):
        self.ensure_one()
        self.contract_id._post_manual_entry(
            self.kind,
            self.units,
            self.reason,
            self.date,
            expiry_date=self.kind == "credit" and self.expiry_date,
            unit_value=self.unit_value,
            value_account=self.value_account_id,
        )
        return {"type": "ir.actions.act_window_close"}
