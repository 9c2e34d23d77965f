from odoo import models
from odoo.exceptions import UserError

# Transactions that pay an order (not a refund, nor a card check).
PAYING_OPERATIONS = ("online_redirect", "online_direct", "online_token", "offline")


# One model, one file per concern (retainer assignment, automatic top-up,
# online payments) to keep each file short.
class SaleOrder(models.Model):
    """How the units of a top-up follow its online payment: nothing while
    the payment is only authorized, credited once it is captured, taken
    back (or the account manager told) when it is voided or refunded. See
    payment_transaction.py for the hooks."""

    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited

    # === BUSINESS METHODS === #

    def _retainer_is_topup(self):
        """Whether this order tops up a retainer (a retainer and retainer
        products)."""
        self.ensure_one()
        return bool(self.retainer_id) and any(
            self.order_line.mapped("retainer_product_units")
        )

    def _retainer_paying_transactions(self):
        """This order's payment transactions (``payment.transaction``), in
        sudo: payment records are the system's, only their states are
        read."""
        self.ensure_one()
        return self.sudo().transaction_ids.filtered(
            lambda tx: tx.operation in PAYING_OPERATIONS
        )

    def _retainer_captured_amount(self):
        """The money captured for this order: its transactions done, or,
        for one captured in parts, its parts done (its own amount is the
        authorization's)."""
        self.ensure_one()
        captured = 0.0
        for tx in self._retainer_paying_transactions():
            parts = tx.child_transaction_ids.filtered(
                lambda child, tx=tx: child.operation == tx.operation
            )
            if parts:
                captured += sum(
                    parts.filtered(lambda p: p.state == "done").mapped("amount")
                )
            elif tx.state == "done":
                captured += tx.amount
        return captured

    def _retainer_payment_captured(self):
        """Whether the money captured for this order reaches the amount that
        confirms it: an authorization, which Odoo counts with the captured
        amounts to confirm the order, is not money."""
        self.ensure_one()
        return (
            self.currency_id.compare_amounts(
                self._retainer_captured_amount(),
                self._get_prepayment_required_amount(),
            )
            >= 0
        )

    def _retainer_payment_on_hold(self):
        """Whether this order's online payment is only authorized (a hold
        on the customer's card, or what is left of it once captured in
        parts) and not captured enough: its units wait for the capture,
        whatever the credit trigger."""
        self.ensure_one()
        authorizations = self._retainer_paying_transactions().filtered(
            lambda tx: tx.state == "authorized" or tx.child_transaction_ids
        )
        return bool(authorizations) and not self._retainer_payment_captured()

    def _retainer_check_payable(self):
        """Refuse a payment transaction for a top-up that no longer waits
        for one: an expired quotation (its price is no longer offered), a
        confirmed or cancelled order (its invoice is what is paid). Checked
        before the transaction is made, whatever route asks.

        :raises UserError:
        """
        for order in self.filtered(lambda o: o._retainer_is_topup()):
            if order.is_expired:
                raise UserError(
                    self.env._(
                        "Quotation %(order)s expired on %(date)s: it can no "
                        "longer be paid. Ask for a new one.",
                        order=order.name,
                        date=order.validity_date,
                    )
                )
            if order.state not in ("draft", "sent"):
                raise UserError(
                    self.env._(
                        "Order %(order)s no longer waits for a payment: pay "
                        "its invoice instead.",
                        order=order.name,
                    )
                )

    def _retainer_payment_voided(self, tx):
        """Take back this confirmed top-up whose payment ``tx`` was voided
        (or failed) after it was authorized, in full or what was left of
        it: the money was not captured. Nothing captured: the order is
        cancelled, which takes its units back. Some money captured (the
        units still wait, see ``_retainer_payment_on_hold``), or posted
        invoices: the account manager decides, told by an activity."""
        self.ensure_one()
        if self.state != "sale" or not self._retainer_is_topup():
            return
        if self._retainer_payment_captured():
            return  # paid by other transactions
        captured = self._retainer_captured_amount()
        posted = self.invoice_ids.filtered(lambda move: move.state == "posted")
        if not self.currency_id.is_zero(captured) or posted:
            message = self.env._(
                "The payment %(reference)s of order %(order)s was voided before "
                "it was captured in full (%(captured)s captured), and the order "
                "has captured money or posted invoices: it stays confirmed. "
                "Cancel it (refund what was captured, cancel its invoices) or "
                "have the customer pay the rest.",
                reference=tx.reference,
                order=self.name,
                captured=self.currency_id.format(captured),
            )
            self.message_post(body=message, subtype_xmlid="mail.mt_note")
            self.retainer_id._retainer_report_auto_topup(
                message, summary=self.env._("Top-up payment voided")
            )
            return
        self._action_cancel()
        self.message_post(
            body=self.env._(
                "The payment %(reference)s of order %(order)s was voided before "
                "it was captured: the order is cancelled and credits nothing.",
                reference=tx.reference,
                order=self.name,
            ),
            subtype_xmlid="mail.mt_note",
        )

    def _retainer_payment_refunded(self, refund_tx):
        """Tell this top-up's account manager that its payment was refunded
        by ``refund_tx``: the units stay credited until a credit note takes
        them back (how much of the top-up the refund is for, and its
        accounting, is the accountant's call), never silently."""
        self.ensure_one()
        if self.state != "sale" or not self._retainer_is_topup():
            return
        message = self.env._(
            "The payment %(reference)s of order %(order)s was refunded "
            "(%(amount)s). Its units stay credited until a credit note of its "
            "invoice takes them back: issue the credit note.",
            reference=refund_tx.source_transaction_id.reference,
            order=self.name,
            amount=refund_tx.currency_id.format(abs(refund_tx.amount)),
        )
        self.message_post(body=message, subtype_xmlid="mail.mt_note")
        self.retainer_id._retainer_report_auto_topup(
            message, summary=self.env._("Top-up payment refunded")
        )
