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

    def action_post(self):
        self.ensure_one()
        self.contract_id._post_manual_entry(
            self.kind,
            self.units,
            self.reason,
            self.date,
            expiry_date=self.kind == "credit" and self.expiry_date,
        )
        return {"type": "ir.actions.act_window_close"}
