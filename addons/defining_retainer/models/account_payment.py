from odoo import models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    def write(self, vals):
        result = super().write(vals)
        if "state" in vals:
            # A payment without journal entry pays its invoices through
            # matched_payment_ids, with no reconciliation and so no
            # _invoice_paid_hook: follow its state instead.
            self.invoice_ids._retainer_sync_credits()
        return result
