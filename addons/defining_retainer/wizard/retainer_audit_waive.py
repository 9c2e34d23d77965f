from odoo import fields, models


class RetainerAuditWaive(models.TransientModel):
    _name = "retainer.audit.waive"
    _description = "Waive a retainer's audit"

    contract_id = fields.Many2one("retainer.contract", required=True, readonly=True)
    reason = fields.Text(required=True)

    def action_waive(self):
        self.ensure_one()
        self.contract_id._waive_audit(self.reason)
        return {"type": "ir.actions.act_window_close"}
