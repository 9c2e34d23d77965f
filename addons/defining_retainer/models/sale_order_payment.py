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

    def _retainer_payment_captured(self):
        """Whether the payments captured (done) of this order reach the
        amount that confirms it: an authorization that also counted (Odoo
        confirms on authorized and captured amounts together) is not
        money."""
        self.ensure_one()
        captured = sum(
            self._retainer_paying_transactions()
            .filtered(lambda tx: tx.state == "done")
            .mapped("amount")
        )
        required = self._get_prepayment_required_amount()
        return self.currency_id.compare_amounts(captured, required) >= 0

    def _retainer_payment_on_hold(self):
        """Whether this order's online payment is only authorized (a hold
        on the customer's card, not captured): its units wait for the
        capture, whatever the credit trigger."""
        self.ensure_one()
        return (
            "authorized" in self._retainer_paying_transactions().mapped("state")
            and not self._retainer_payment_captured()
        )

    def _retainer_check_payable(self):
        """Refuse a payment transaction for a top-up that does not wait for
        one: an expired quotation (its price is no longer offered), a
        confirmed or cancelled order, one that does not require payment.
        Checked before the transaction is made, whatever route asks.

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
            if not order._has_to_be_paid():
                raise UserError(
                    self.env._(
                        "Order %(order)s does not wait for a payment.",
                        order=order.name,
                    )
                )

    def _retainer_payment_voided(self, tx):
        """Take back this confirmed top-up whose payment ``tx`` was voided
        (or failed) after it was authorized: no money was captured. The
        order is cancelled, which takes its units back; an order with
        posted invoices is left to the account manager, told by an
        activity."""
        self.ensure_one()
        if self.state != "sale" or not self._retainer_is_topup():
            return
        if self._retainer_payment_captured():
            return  # paid by other transactions
        if self.invoice_ids.filtered(lambda move: move.state == "posted"):
            message = self.env._(
                "The payment %(reference)s of order %(order)s was voided before "
                "it was captured, but the order has posted invoices: it stays "
                "confirmed. Cancel its invoices and the order, or have the "
                "customer pay them.",
                reference=tx.reference,
                order=self.name,
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
