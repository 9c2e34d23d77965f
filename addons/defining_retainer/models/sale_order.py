import logging
from collections import defaultdict

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools.server_values import server_values
from .res_company import CREDIT_TRIGGER_SELECTION, ORDER_TOPUP_ORIGIN_SELECTION

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


# Transactions that pay an order (not a refund, nor a card check).
PAYING_OPERATIONS = ("online_redirect", "online_direct", "online_token", "offline")


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "retainer.server.values.mixin"]

    # When the units become usable, where the top-up came from and whether it
    # is charged off session (retainer_auto_topup_state, declared below with
    # the automatic top-up): set by the server only.
    _retainer_server_fields = frozenset(
        {
            "retainer_credit_trigger",
            "retainer_topup_origin",
            "retainer_recurring_period_start",
            "retainer_auto_topup_state",
        }
    )

    # === FIELDS === #

    retainer_id = fields.Many2one(
        "retainer.contract",
        check_company=True,
        index="btree_not_null",
        tracking=True,
        domain="[('partner_id', 'parent_of', partner_id), ('state', '!=', 'closed')]",
        help="Retainer topped up by the retainer products of this order. Empty: "
        "the customer's only open retainer in this company, created on "
        "confirmation if there is none. Required when the customer has several.",
    )
    retainer_credit_trigger = fields.Selection(
        CREDIT_TRIGGER_SELECTION,
        string="Retainer credit",
        readonly=True,
        copy=False,
        help="When the units of this order become usable: the company rule in "
        "force when the order was confirmed.",
        groups="base.group_user",
    )
    retainer_topup_origin = fields.Selection(
        ORDER_TOPUP_ORIGIN_SELECTION,
        string="Top-up origin",
        default="sale",
        readonly=True,
        copy=False,
        index=True,
        help="Where this top-up came from: an order made by sales, a "
        "customer's request or purchase on the portal, a recurring or an "
        "automatic top-up.",
    )
    retainer_recurring_period_start = fields.Date(
        readonly=True,
        copy=False,
        help="Start of the period of a recurring top-up this order was made for.",
        groups="base.group_user",
    )

    _sql_constraints = [
        (
            "retainer_recurring_period_unique",
            "UNIQUE(retainer_id, retainer_recurring_period_start)",
            "A recurring top-up already exists for this retainer and period.",
        ),
    ]

    # === ONCHANGE METHODS === #

    @api.onchange("partner_id")
    def _onchange_partner_id_retainer(self):
        customer = self.partner_id.commercial_partner_id
        if self.retainer_id and self.retainer_id.partner_id != customer:
            self.retainer_id = False

    # === CONSTRAINT METHODS === #

    @api.constrains("retainer_id", "partner_id")
    def _check_retainer_partner(self):
        for order in self.filtered("retainer_id"):
            owner = order.retainer_id.partner_id.commercial_partner_id
            if owner != order.partner_id.commercial_partner_id:
                raise ValidationError(
                    self.env._(
                        "Order %(order)s is for %(customer)s but retainer "
                        "%(retainer)s belongs to %(owner)s.",
                        order=order.name,
                        customer=order.partner_id.display_name,
                        retainer=order.retainer_id.name,
                        owner=owner.display_name,
                    )
                )

    @api.constrains("retainer_id", "company_id")
    def _check_retainer_company(self):
        # Checked before Odoo's generic company check, to name the rule.
        for order in self.filtered("retainer_id"):
            order._retainer_check_company(order.retainer_id)

    # === CRUD METHODS === #

    def write(self, vals):
        result = super().write(vals)
        if "retainer_id" in vals and not self.env.context.get("retainer_assigning"):
            # Moving a confirmed order to another retainer moves its credits.
            confirmed = self.filtered(lambda o: o.state == "sale")
            confirmed._retainer_assign_contracts()
            confirmed.order_line._retainer_sync_credits()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_retainer_ledger(self):
        self.order_line._unlink_except_retainer_ledger()

    # === ACTION METHODS === #

    def _action_confirm(self):
        # Confirmed by hand before the job ran: nothing left to charge.
        self._retainer_auto_topup_forget()
        self._retainer_assign_contracts()
        result = super()._action_confirm()
        self.order_line._retainer_sync_credits()
        return result

    def _action_cancel(self):
        self._retainer_auto_topup_forget()
        result = super()._action_cancel()
        self.order_line._retainer_sync_credits()
        return result

    def action_view_retainer(self):
        self.ensure_one()
        return self.retainer_id._get_records_action(name=self.env._("Retainer"))

    # === BUSINESS METHODS === #

    def _retainer_assign_contracts(self):
        """Give each order of ``self`` that sells retainer products the
        retainer they top up, and snapshot the company's credit trigger.

        The order's own retainer wins; else the customer's only open retainer
        in the order's company; else a new one is created. Runs one search for
        the whole batch.

        :raises UserError: the chosen retainer is closed or of another
            company, or the customer has several open retainers and the order
            does not say which one.
        """
        orders = self.filtered(
            lambda o: any(line.retainer_product_units for line in o.order_line)
        )
        if not orders:
            return
        # sudo: finding the customer's retainers must not depend on the
        # salesperson's active companies; only their ids are used, to fill
        # the order the user is allowed to confirm.
        Contract = self.env["retainer.contract"].sudo()
        candidates = defaultdict(lambda: Contract)
        for contract in Contract.search(
            [
                ("partner_id", "in", orders.partner_id.commercial_partner_id.ids),
                ("company_id", "in", orders.company_id.ids),
                ("state", "!=", "closed"),
            ]
        ):
            candidates[contract.partner_id, contract.company_id] |= contract
        for order in orders:
            customer = order.partner_id.commercial_partner_id
            contract = order.retainer_id
            if contract:
                order._retainer_check_contract(contract)
            else:
                found = candidates[customer, order.company_id]
                if len(found) > 1:
                    raise UserError(
                        self.env._(
                            "%(customer)s has several open retainers in "
                            "%(company)s (%(retainers)s). Choose the one order "
                            "%(order)s tops up in its Retainer field.",
                            customer=customer.display_name,
                            company=order.company_id.name,
                            retainers=", ".join(found.mapped("name")),
                            order=order.name,
                        )
                    )
                if not found:
                    order._retainer_lock_customer(customer)
                contract = found or order._retainer_create_contract()
                candidates[customer, order.company_id] = contract
            with server_values():
                order.with_context(retainer_assigning=True).write(
                    {
                        "retainer_id": contract.id,
                        "retainer_credit_trigger": (
                            order.retainer_credit_trigger
                            or order.company_id.retainer_credit_trigger
                        ),
                    }
                )

    def _retainer_check_contract(self, contract):
        self.ensure_one()
        self._retainer_check_company(contract)
        if contract.state == "closed":
            raise UserError(
                self.env._(
                    "Retainer %(retainer)s is closed: it cannot be topped up.",
                    retainer=contract.name,
                )
            )

    def _retainer_check_company(self, contract):
        self.ensure_one()
        if contract.company_id != self.company_id:
            raise ValidationError(
                self.env._(
                    "Order %(order)s is in %(company)s but retainer %(retainer)s "
                    "belongs to %(other)s.",
                    order=self.name,
                    company=self.company_id.name,
                    retainer=contract.name,
                    other=contract.company_id.name,
                )
            )

    @api.model
    def _retainer_lock_customer(self, customer):
        """Serialize the creation of ``customer``'s first retainer.

        Two first sales confirmed at once would each find no retainer and
        create one. A lock alone (``SELECT ... FOR UPDATE`` or an advisory
        lock on (company, customer)) is not enough under REPEATABLE READ: the
        sale that waited would go on with its old snapshot, still without
        the other's retainer. Writing the customer's row makes PostgreSQL
        abort the later of two concurrent sales with a serialization error,
        which Odoo retries with a fresh snapshot that finds the retainer.
        The row is the commercial partner's, shared by its companies: a
        first sale in another company at the same moment is retried too.
        """
        self.env.cr.execute(
            SQL(
                "UPDATE res_partner SET write_date = write_date WHERE id = %s",
                customer.id,
            )
        )

    def _retainer_create_contract(self):
        """Create the retainer of this order's customer, with the level of
        its first retainer product that names one, else the default level."""
        self.ensure_one()
        Contract = self.env["retainer.contract"].with_company(self.company_id)
        level = self.order_line.product_id.product_tmpl_id.retainer_level_id[:1]
        level = level or Contract._default_level_id()
        if not level:
            raise UserError(
                self.env._("Create a retainer level before selling retainers.")
            )
        # sudo: salespeople may not create retainers by hand; this one only
        # records the customer and company of the order being confirmed.
        return Contract.sudo().create(
            {
                "partner_id": self.partner_id.commercial_partner_id.id,
                "company_id": self.company_id.id,
                "level_id": level.id,
                "user_id": (self.user_id or self.env.user).id,
            }
        )

    # === DEMO DATA === #

    @api.model
    def _retainer_demo_sell(self, order_ids, sale_date):
        """Demo data only: confirm and invoice the orders ``order_ids`` as
        if on ``sale_date``, a past date, so that the demo has a history.
        Their retainer credits are dated then (and expire after their
        products' validity from then), their invoices are dated then and
        posted. Real orders credit and invoice on the day.

        :returns: the ids of the posted invoices
        """
        sale_date = fields.Date.to_date(sale_date)
        orders = self.browse(order_ids)
        orders._retainer_assign_contracts()
        Ledger = self.env["retainer.ledger.entry"]
        credit_vals = []
        for line in orders.order_line.filtered("retainer_product_units"):
            months = line.product_id.retainer_validity_months
            vals = line._retainer_prepare_credit_vals(
                line._retainer_qty_to_units(line.product_uom_qty),
                self.env["account.move"],
                Ledger,
            )
            vals["date"] = sale_date
            vals["expiry_date"] = (
                sale_date + relativedelta(months=months) if months else False
            )
            credit_vals.append(vals)
        # Posted first: confirming finds them and credits nothing more.
        Ledger._post(credit_vals, apply_overdraft_policy=False)
        orders.action_confirm()
        orders.date_order = fields.Datetime.to_datetime(sale_date)
        invoices = orders._create_invoices()
        invoices.invoice_date = sale_date
        invoices.action_post()
        return invoices.ids

    @api.model
    def _retainer_demo_refund(self, order_id, quantity, refund_date):
        """Demo data only: a credit note dated ``refund_date`` for
        ``quantity`` of the retainer lines of order ``order_id``'s invoice,
        made with the reversal wizard and lowered before it is posted, as an
        accountant refunds part of an invoice.

        :returns: the id of the posted credit note
        """
        invoice = self.browse(order_id).invoice_ids.filtered(
            lambda move: move.move_type == "out_invoice"
        )
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {
                    "reason": "Unused time refunded",
                    "journal_id": invoice.journal_id.id,
                    "date": refund_date,
                }
            )
        )
        credit_note = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        credit_note.invoice_line_ids.filtered(
            lambda line: line.sale_line_ids.retainer_product_units
        ).quantity = quantity
        credit_note.action_post()
        return credit_note.id

    # -------------------------------------------------------------------------
    # AUTOMATIC TOP-UP: CHARGING OR SENDING THE ORDER
    # -------------------------------------------------------------------------
    # What happens to an automatic top-up order (made by a posting, see
    # retainer_contract_sale.py) after its posting: a scheduled job, in
    # a transaction of its own, charges it to the customer's saved payment
    # method, or sends it to them to pay online.

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

    # -------------------------------------------------------------------------
    # ONLINE PAYMENTS: UNITS FOLLOW THE MONEY CAPTURED
    # -------------------------------------------------------------------------
    # How the units of a top-up follow its online payment: nothing while
    # the payment is only authorized, credited once it is captured, taken
    # back (or the account manager told) when it is voided or refunded. See
    # payment_transaction.py for the hooks.

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
