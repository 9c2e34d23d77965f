from odoo import models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    def unlink(self):
        # Unreconciling a payment (or a credit note) can make an invoice
        # unpaid again: its retainer credits must follow.
        moves = self.debit_move_id.move_id | self.credit_move_id.move_id
        result = super().unlink()
        moves.exists()._retainer_sync_credits()
        return result
