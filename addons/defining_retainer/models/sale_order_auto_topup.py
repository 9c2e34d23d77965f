import logging

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..tools.server_values import server_values

_logger = logging.getLogger(__name__)

AUTO_TOPUP_STATE_SELECTION = [
    ("to_charge", "To charge"),
    ("to_send", "To send"),
    ("charged", "Charged"),
    ("sent", "Sent to pay online"),
    ("failed", "Not processed"),
]
# Orders the scheduled job still has to charge or send.
AUTO_TOPUP_WAITING = ("to_charge", "to_send")
AUTO_TOPUP_BATCH_SIZE = 20


# One model, one file per concern (retainer assignment, automatic top-up)
# to keep each file short.
class SaleOrder(models.Model):
    """What happens to an automatic top-up order (made by a posting, see
    retainer_contract_auto_topup.py) after its posting: a scheduled job, in
    a transaction of its own, charges it to the customer's saved payment
    method, or sends it to them to pay online."""

    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    retainer_auto_topup_state = fields.Selection(
        AUTO_TOPUP_STATE_SELECTION,
        string="Automatic top-up",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Of an automatic top-up: to charge to the customer's saved "
        "payment method or to send to them (the scheduled job does it "
        "shortly), charged (the payment transaction tells the outcome), sent "
        "to pay online (no saved method, or its charge failed), or not "
        "processed (see the retainer's activity).",
        groups="base.group_user",
    )

    # === ACTION METHODS === #

    def _action_confirm(self):
        # Confirmed by hand before the job ran: nothing left to charge.
        self._retainer_auto_topup_forget()
        return super()._action_confirm()

    def _action_cancel(self):
        self._retainer_auto_topup_forget()
        return super()._action_cancel()

    # === BUSINESS METHODS === #

    def _retainer_auto_topup_forget(self):
        waiting = self.filtered(
            lambda o: o.retainer_auto_topup_state in AUTO_TOPUP_WAITING
        )
        waiting._retainer_set_auto_topup_state(False)

    def _retainer_set_auto_topup_state(self, state):
        """The automatic top-up state is the server's alone: only this
        method (and the order's creation by the automatic top-up) sets it."""
        if self:
            with server_values():
                self.write({"retainer_auto_topup_state": state})

    @api.model
    def _cron_retainer_auto_topups(self, batch_size=AUTO_TOPUP_BATCH_SIZE):
        """Scheduled job (triggered when an automatic top-up is ordered, and
        hourly): charge or send the automatic top-up quotations waiting.

        Each order is handled once: its state leaves the waiting ones in the
        same transaction as its charge or email. Commits after each step
        (not in tests): the payment transaction is recorded before the
        provider is asked, so a job that dies after the provider charged
        leaves it for the provider's notification, never charged twice.
        """
        domain = [
            ("retainer_auto_topup_state", "in", AUTO_TOPUP_WAITING),
            ("state", "in", ("draft", "sent")),
        ]
        orders = self.search(domain, order="id", limit=batch_size)
        commit = self.env["retainer.statement"]._retainer_can_commit()
        for order in orders:
            order = order.with_company(order.company_id)
            tx = order._retainer_auto_topup_guard(order._retainer_start_auto_topup)
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            if tx:
                order._retainer_charge_auto_topup(tx)
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = self.search_count(domain) if len(orders) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(orders), remaining=remaining)
        return orders

    def _retainer_auto_topup_guard(self, step, *args):
        """Run ``step(*args)`` for this order in a savepoint and return its
        result. An unexpected error (a mail template that fails...) undoes
        the step alone, leaves the order 'failed' (never retried) and gives
        the retainer's account manager an activity."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                return step(*args)
        except psycopg2.Error:
            raise  # a concurrency error: the job runs again
        except Exception as error:  # reported below; the job goes on
            _logger.exception(
                "Automatic top-up order %s (id %s) failed", self.name, self.id
            )
            self._retainer_set_auto_topup_state("failed")
            self.retainer_id._retainer_report_auto_topup(
                self.env._(
                    "Automatic top-up %(order)s could not be charged or sent: "
                    "%(error)s",
                    order=self.name,
                    error=str(error) or type(error).__name__,
                ),
                summary=self.env._("Automatic top-up failed"),
            )
            return None

    def _retainer_start_auto_topup(self):
        """Create the payment transaction charging this waiting order to the
        customer's saved payment method and return it (the order is then
        'charged'); without a saved method, or when the transaction is
        refused (archived method...), send the quotation to pay online."""
        self.ensure_one()
        self._retainer_check_genuine_auto_topup()
        token = self.env["payment.token"]
        if self.retainer_auto_topup_state == "to_charge":
            token = self.retainer_id._retainer_auto_topup_payment_token()
        if not token:
            self._retainer_send_auto_topup()
            return None
        token_error = self.retainer_id._retainer_auto_topup_token_error(token)
        if token_error:
            self._retainer_auto_topup_charge_failed(token, token_error)
            return None
        try:
            with self.env.cr.savepoint():
                tx = self._retainer_create_auto_topup_transaction(token)
        except UserError as error:  # an archived method, a disabled provider...
            self._retainer_auto_topup_charge_failed(token, str(error))
            return None
        self._retainer_set_auto_topup_state("charged")
        return tx

    def _retainer_check_genuine_auto_topup(self):
        """Refuse to charge or send an order that is not exactly what its
        retainer's automatic top-up orders: of origin *Automatic top-up*,
        for the retainer's customer (and invoice address), with only lines
        of the retainer's top-up product, in its unit, within the configured
        quantity and the top-up bound. Whatever wrote the order's marker (a
        salesperson's edit, an import), the job never charges anything else
        to a saved card.

        :raises UserError: (the job's guard marks the order 'failed' and
            tells the account manager)
        """
        self.ensure_one()
        contract = self.retainer_id
        customer = contract.partner_id.commercial_partner_id
        product = contract.auto_topup_product_id
        lines = self.order_line.filtered(lambda line: not line.display_type)
        maximum = contract._retainer_auto_topup_max_quantity() if contract else None
        quantity = sum(lines.mapped("product_uom_qty"))
        if (
            not contract
            or self.retainer_topup_origin != "auto"
            or self.company_id != contract.company_id
            or self.partner_id.commercial_partner_id != customer
            or self.partner_invoice_id.commercial_partner_id != customer
            or not product
            or not lines
            or lines.product_id != product
            or lines.product_uom != product.uom_id
            or quantity <= 0
            or quantity > contract.auto_topup_quantity
            or maximum is None
            or quantity > maximum
        ):
            raise UserError(
                self.env._(
                    "Order %(order)s is not an automatic top-up of its retainer "
                    "(origin, customer, product or quantity): it is not charged "
                    "nor sent.",
                    order=self.name,
                )
            )

    def _retainer_create_auto_topup_transaction(self, token):
        """A draft ``payment.transaction`` of this order's total, charged off
        session to ``token`` (``payment.token``)."""
        self.ensure_one()
        # sudo: the job charges on the customer's behalf, with the method
        # their retainer's manager chose; payment records are the system's
        # (core's own payment flows write them in sudo too).
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": token.provider_id.id,
                    "payment_method_id": token.payment_method_id.id,
                    "token_id": token.id,
                    "operation": "offline",
                    "amount": self.amount_total,
                    "currency_id": self.currency_id.id,
                    "partner_id": self.partner_invoice_id.id,
                    "sale_order_ids": [Command.set(self.ids)],
                }
            )
        )

    def _retainer_charge_auto_topup(self, tx):
        """Ask the provider to make the payment ``tx`` of this order, then
        post-process it: a confirmed (or authorized) payment confirms the
        order as a payment on the portal would; a refused one sends the
        quotation to pay online instead. A pending payment is left to the
        provider's notification."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                tx._send_payment_request()
        except UserError as error:  # the provider refused: nothing was charged
            tx._set_error(str(error) or type(error).__name__)
        except psycopg2.Error:
            raise
        except Exception as error:  # reported below; the job goes on
            # The outcome is unknown: never ask the customer to pay again.
            _logger.exception(
                "Automatic top-up order %s: payment request %s failed",
                self.name,
                tx.reference,
            )
            self.retainer_id._retainer_report_auto_topup(
                self.env._(
                    "The charge of automatic top-up %(order)s ended in an error "
                    "(%(error)s): check its payment transaction %(reference)s "
                    "before asking the customer to pay.",
                    order=self.name,
                    error=str(error) or type(error).__name__,
                    reference=tx.reference,
                ),
                summary=self.env._("Automatic top-up to check"),
            )
            return
        if tx.state in ("done", "authorized"):
            try:
                with self.env.cr.savepoint():
                    tx._post_process()
            except psycopg2.Error:
                raise
            except Exception:  # payment's post-processing job tries again
                _logger.exception(
                    "Automatic top-up order %s: post-processing of %s failed",
                    self.name,
                    tx.reference,
                )
        elif tx.state in ("error", "cancel"):
            self._retainer_auto_topup_guard(
                self._retainer_auto_topup_charge_failed,
                tx.token_id,
                tx.state_message or tx.state,
            )

    def _retainer_auto_topup_charge_failed(self, token, reason):
        """Send this order to pay online after its charge to ``token``
        failed for ``reason``, and say so on the order and the retainer."""
        self.ensure_one()
        self._retainer_send_auto_topup()
        message = self.env._(
            "The automatic charge of %(order)s (%(amount)s) to the saved payment "
            "method %(token)s failed: %(reason)s. The quotation was sent to the "
            "customer to pay online.",
            order=self.name,
            amount=self.currency_id.format(self.amount_total),
            token=token.sudo().display_name,
            reason=reason,
        )
        self.message_post(body=message, subtype_xmlid="mail.mt_note")
        self.retainer_id._retainer_report_auto_topup(
            message, summary=self.env._("Automatic top-up not charged")
        )

    def _retainer_send_auto_topup(self):
        """Email this quotation to the customer with the sales quotation
        template (a link to pay it online) and mark it sent. The email is
        queued, as every customer email of the retainers."""
        self.ensure_one()
        if self.state == "draft":
            self.action_quotation_sent()
        template = self._find_mail_template()
        if template:
            self.with_context(mail_notify_force_send=False).message_post_with_source(
                template,
                email_layout_xmlid="mail.mail_notification_layout_with_responsible_signature",
                subtype_xmlid="mail.mt_comment",
            )
        self._retainer_set_auto_topup_state("sent")
