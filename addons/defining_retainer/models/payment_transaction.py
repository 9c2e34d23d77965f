from odoo import api, models
from odoo.tools import str2bool


class PaymentTransaction(models.Model):
    """The units of a top-up follow the money its payment captured (see
    sale_order.py and ``_retainer_target_qty``):

    - refused before it is made: a payment of an expired quotation, or of an
      order that does not wait for one;
    - authorized (a hold): Odoo confirms the order, no unit is credited;
    - captured (done): invoiced, posted and reconciled at once, so credited
      whatever the credit trigger;
    - voided or failed after the authorization: the order is cancelled, or
      the account manager told when it has posted invoices;
    - refunded: the account manager is told, the credit note takes the
      units back.
    """

    _inherit = "payment.transaction"

    @api.model_create_multi
    def create(self, vals_list):
        order_ids = set()
        for vals in vals_list:
            if vals.get("sale_order_ids"):
                order_ids.update(
                    self._fields["sale_order_ids"].convert_to_cache(
                        vals["sale_order_ids"], self
                    )
                )
        # sudo: only the orders' state, validity and lines are read, to
        # refuse a payment whoever asks for it (the portal's route runs in
        # sudo too).
        self.env["sale.order"].sudo().browse(order_ids)._retainer_check_payable()
        return super().create(vals_list)

    def _set_canceled(self, state_message=None, extra_allowed_states=()):
        authorized = self._retainer_authorized()
        canceled = super()._set_canceled(
            state_message=state_message, extra_allowed_states=extra_allowed_states
        )
        (canceled & authorized)._retainer_release_orders()
        return canceled

    def _set_error(self, state_message, extra_allowed_states=()):
        authorized = self._retainer_authorized()
        failed = super()._set_error(
            state_message, extra_allowed_states=extra_allowed_states
        )
        (failed & authorized)._retainer_release_orders()
        return failed

    def _post_process(self):
        refunds = self.filtered(
            lambda tx: (
                tx.operation == "refund"
                and tx.state == "done"
                and not tx.is_post_processed
            )
        )
        result = super()._post_process()
        for refund in refunds:
            for order in refund.source_transaction_id._retainer_orders():
                order._retainer_payment_refunded(refund)
        return result

    def _check_amount_and_confirm_order(self):
        """Invoice at once the retainer top-ups that a captured online
        payment pays, as Odoo's "Automatic Invoice" setting does for every
        order: sale's post-processing then posts the invoice and reconciles
        the payment with it, so the units are credited at once whatever the
        company's credit trigger (on confirmation, invoice posted or paid),
        and the customer's payment never waits unreconciled. A payment
        first authorized then captured is invoiced at its capture (Odoo
        confirmed the order at the authorization).

        Only top-ups with no invoice yet are invoiced: a payment notified
        twice (a provider retrying its webhook) invoices nothing more.
        """
        confirmed = super()._check_amount_and_confirm_order()
        # sudo: reading a system parameter; sale reads it the same way.
        if str2bool(
            self.env["ir.config_parameter"].sudo().get_param("sale.automatic_invoice")
        ):
            return confirmed  # sale invoices every paid order itself
        self.filtered(
            lambda tx: (
                tx.state == "done"
                and tx.sale_order_ids.filtered(
                    lambda order: (
                        order.state == "sale"
                        and order._retainer_is_topup()
                        and not order._retainer_payment_on_hold()
                        and not order.invoice_ids.filtered(
                            lambda move: move.state != "cancel"
                        )
                    )
                )
            )
        )._invoice_sale_orders()
        return confirmed

    def _retainer_orders(self):
        """The orders this transaction pays: its own, or its source's for a
        part of a capture or void (as payment logs on them)."""
        self.ensure_one()
        return self.sale_order_ids or self.source_transaction_id.sale_order_ids

    def _retainer_authorized(self):
        """The transactions of ``self`` that are an authorization, or a
        part of one (a partial void of a payment captured in parts)."""
        return self.filtered(
            lambda tx: (
                tx.state == "authorized"
                or (
                    tx.source_transaction_id.state == "authorized"
                    and tx.operation == tx.source_transaction_id.operation
                )
            )
        )

    def _retainer_release_orders(self):
        """The authorization of these transactions (or what was left of it)
        ended without capture: take back the top-ups it confirmed."""
        for tx in self:
            for order in tx._retainer_orders():
                order._retainer_payment_voided(tx)
