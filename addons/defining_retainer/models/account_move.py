from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools.server_values import server_values
from ..tools.units import quantity_to_units, round_half_up


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "retainer.server.values.mixin"]

    # What an overdraft invoice gives back is the server's to say: set when
    # the retainer invoices its overdraft, never by a client.
    _retainer_server_fields = frozenset(
        {
            "retainer_overdraft_id",
            "retainer_overdraft_units",
            "retainer_overdraft_product_id",
        }
    )

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
    retainer_overdraft_product_id = fields.Many2one(
        "product.product",
        readonly=True,
        copy=False,
        help="Product whose lines bill the overdraft's hours (the company's "
        "overage product when the invoice was made). Lines of other products "
        "never change the units credited back.",
    )

    retainer_ids = fields.Many2many(
        "retainer.contract",
        string="Retainers",
        compute="_compute_retainer_ids",
        help="The retainers this invoice tops up, or whose overdraft it bills.",
    )

    @api.depends("invoice_line_ids.retainer_id")
    def _compute_retainer_ids(self):
        for move in self:
            move.retainer_ids = move.invoice_line_ids.retainer_id

    def action_view_retainers(self):
        """The invoice's stat button: from an invoice to its retainer."""
        self.ensure_one()
        return self.retainer_ids._get_records_action(name=self.env._("Retainer"))

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
        self._retainer_mark_deferred_lines()
        # sudo: an accountant without retainer rights posts credit notes;
        # what is booked follows from the documents being posted. Measured
        # before posting: posting may already take the units back.
        RevenueLine = self.env["retainer.revenue.line"].sudo()
        refund_plan = RevenueLine._retainer_plan_refund_excess(self)
        posted = super()._post(soft=soft)
        RevenueLine._retainer_book_refund_excess(refund_plan)
        self._retainer_sync_credits()
        self._retainer_invalidate_values()
        return posted

    def button_draft(self):
        result = super().button_draft()
        self._retainer_cancel_refund_excess()
        self._retainer_sync_credits()
        self._retainer_invalidate_values()
        return result

    def button_cancel(self):
        result = super().button_cancel()
        self._retainer_cancel_refund_excess()
        self._retainer_sync_credits()
        self._retainer_invalidate_values()
        return result

    def _invoice_paid_hook(self):
        result = super()._invoice_paid_hook()
        self._retainer_sync_credits()
        return result

    # === BUSINESS METHODS === #

    def _retainer_mark_deferred_lines(self):
        """Record, as they are posted, which retainer lines went to the
        deferred revenue account: their revenue is recognised by the job
        (and only theirs: invoices posted before deferral was turned on
        keep their income account and are never recognised again)."""
        candidates = self.filtered(
            lambda move: move.move_type in ("out_invoice", "out_refund")
        ).invoice_line_ids
        deferrable = candidates._retainer_deferrable_lines()
        deferred = deferrable.filtered(
            lambda line: line.account_id == line.company_id.retainer_deferred_account_id
        )
        with server_values():
            deferred.filtered(lambda line: not line.retainer_deferred).write(
                {"retainer_deferred": True}
            )
            (candidates - deferred).filtered("retainer_deferred").write(
                {"retainer_deferred": False}
            )

    def _retainer_invalidate_values(self):
        """The value of blocks and retainers follows posted invoices."""
        if self.filtered(lambda move: move.is_sale_document()):
            self.env["retainer.ledger.entry"].invalidate_model(
                ["unit_value", "value_pending"]
            )
            self.env["retainer.contract"].invalidate_model(
                ["unearned_value", "recognized_value"]
            )

    def _retainer_cancel_refund_excess(self):
        refunds = self.filtered(lambda move: move.move_type == "out_refund")
        if refunds:
            # sudo: see _post.
            self.env["retainer.revenue.line"].sudo()._retainer_cancel_refund_excess(
                refunds
            )

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
        """Units an overdraft invoice should have credited back: none once
        cancelled; else the hours its overage lines bill, in the retainer's
        units (half up) and at most the overdraft it was made for, less the
        share of those lines' amount refunded by posted credit notes
        (rounded half up). Lines of other products never count."""
        self.ensure_one()
        if self.state == "cancel":
            return 0
        contract = self.retainer_overdraft_id
        lines = self._retainer_overdraft_lines()
        hours = sum(lines._retainer_overdraft_hours(contract))
        units_per_hour = 60 / contract.rounding_unit_minutes
        billed = min(
            quantity_to_units(hours, units_per_hour), self.retainer_overdraft_units
        )
        amount = sum(lines.mapped("price_subtotal"))
        refunded = 0.0
        refund_lines = self.reversal_move_ids.filtered(
            lambda move: move.state == "posted"
        )._retainer_overdraft_lines(self)
        for line, line_hours in zip(
            refund_lines, refund_lines._retainer_overdraft_hours(contract), strict=True
        ):
            # By amount, as any credit note; by hours when amounts cannot be
            # compared (free hours, another currency).
            if amount > 0 and line.currency_id == self.currency_id:
                refunded += line.price_subtotal / amount
            elif hours > 0:
                refunded += line_hours / hours
        return max(billed - round_half_up(billed * refunded), 0)

    def _retainer_overdraft_lines(self, invoice=None):
        """Lines of these moves that bill the overdraft of ``invoice``
        (default: each move itself): those of its overage product."""
        invoice = invoice or self
        product = invoice.retainer_overdraft_product_id
        if not product:
            # Made before the invoice recorded its product: the company's.
            product = invoice.company_id.retainer_overage_product_id or self.env.ref(
                "defining_retainer.product_retainer_overage", raise_if_not_found=False
            )
        if not product:
            return self.env["account.move.line"]
        return self.invoice_line_ids.filtered(lambda line: line.product_id == product)

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
            reverse, vals = Ledger._reconcile_plan(
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
        Ledger._post(
            new_vals,
            reverse=to_reverse,
            reason=self.env._("Overdraft invoice cancelled or refunded"),
            apply_overdraft_policy=False,
        )
