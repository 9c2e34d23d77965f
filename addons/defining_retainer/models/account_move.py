from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_round


class AccountMove(models.Model):
    _inherit = "account.move"

    retainer_overdraft_id = fields.Many2one(
        "retainer.contract",
        string="Overdraft of retainer",
        readonly=True,
        copy=False,
        index="btree_not_null",
        check_company=True,
        help="This invoice bills an overdraft of this retainer, whose units it "
        "credited back.",
    )
    retainer_overdraft_units = fields.Integer(readonly=True, copy=False)

    # === CRUD METHODS === #

    def write(self, vals):
        result = super().write(vals)
        if "matched_payment_ids" in vals:
            # A payment without journal entry is matched here, with no
            # reconciliation: payment_state may have changed.
            self._retainer_sync_credits()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_retainer_ledger(self):
        # sudo: only counts entries, so that accountants without retainer
        # rights get the clear message below instead of an access error.
        if (
            self.env["retainer.ledger.entry"]
            .sudo()
            .search_count([("invoice_id", "in", self.ids)], limit=1)
        ):
            raise UserError(
                self.env._(
                    "This invoice has credited a retainer: its history must keep "
                    "it. Cancel the invoice instead of deleting it."
                )
            )

    # === ACTION METHODS (hooks of the invoice life cycle) === #

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        self._retainer_sync_credits()
        return posted

    def button_draft(self):
        result = super().button_draft()
        self._retainer_sync_credits()
        return result

    def button_cancel(self):
        result = super().button_cancel()
        self._retainer_sync_credits()
        return result

    def _invoice_paid_hook(self):
        result = super()._invoice_paid_hook()
        self._retainer_sync_credits()
        return result

    # === BUSINESS METHODS === #

    def _retainer_sync_credits(self):
        """Bring the retainer credits fed by these customer invoices and
        credit notes in line with their current state and payment state.

        Called after posting, resetting to draft, cancelling, payment and
        unreconciliation, and by a daily job; idempotent, so a path that
        bypasses one of these hooks still converges.
        """
        moves = self.filtered(lambda m: m.is_sale_document(include_receipts=True))
        if not moves:
            return
        # sudo: an accountant without sales or retainer rights posts and
        # pays invoices; the credits follow deterministically from the state
        # of documents the user just changed, nothing else is written.
        moves = moves.sudo()
        moves |= moves.reversed_entry_id
        moves.invoice_line_ids.sale_line_ids.filtered(
            "retainer_product_units"
        )._retainer_sync_credits()
        moves.filtered("retainer_overdraft_id")._retainer_sync_overdraft_credits()

    def _retainer_overdraft_target_units(self):
        """Units an overdraft invoice should have credited back: all of them
        while it is not cancelled, less the share of its hours refunded by
        posted credit notes."""
        self.ensure_one()
        if self.state == "cancel":
            return 0
        products = self.invoice_line_ids.product_id
        invoiced = sum(self.invoice_line_ids.mapped("quantity"))
        refunded = sum(
            self.reversal_move_ids.filtered(lambda m: m.state == "posted")
            .invoice_line_ids.filtered(lambda line: line.product_id in products)
            .mapped("quantity")
        )
        if not invoiced or refunded <= 0:
            return self.retainer_overdraft_units
        share = max(0.0, 1.0 - refunded / invoiced)
        return int(
            float_round(
                self.retainer_overdraft_units * share,
                precision_digits=0,
                rounding_method="HALF-UP",
            )
        )

    def _retainer_sync_overdraft_credits(self):
        """Same as the sale line sync, for credits given back by overdraft
        invoices: a cancelled or credited invoice takes its units back."""
        Ledger = self.env["retainer.ledger.entry"]
        live = Ledger.search(
            [
                ("invoice_id", "in", self.ids),
                ("sale_line_id", "=", False),
                ("kind", "=", "credit"),
                ("reversal_entry_ids", "=", False),
            ]
        )
        live_by_move = defaultdict(lambda: Ledger)
        for credit in live:
            live_by_move[credit.invoice_id.id] |= credit
        to_reverse = Ledger
        new_vals = []
        for move in self:
            reverse, vals = Ledger._retainer_reconcile(
                live_by_move[move.id],
                move._retainer_overdraft_target_units(),
                lambda units, move=move: (
                    move.retainer_overdraft_id._retainer_prepare_overdraft_credit_vals(
                        move, units
                    )
                ),
            )
            to_reverse |= reverse
            new_vals += vals
        # Taking back an overdraft's credit is never refused by the policy.
        to_reverse._reverse(
            reason=self.env._("Overdraft invoice cancelled or refunded"),
            apply_overdraft_policy=False,
        )
        Ledger._post(new_vals, apply_overdraft_policy=False)
