import logging

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.server_values import server_values
from ..tools.units import MAX_TOPUP_DAYS, max_topup_quantity

_logger = logging.getLogger(__name__)

AUTO_TOPUP_CRON = "defining_retainer.ir_cron_retainer_auto_topup_charge"


# One model, one file per concern (core, posting, blocks, sales, alerts,
# automatic top-up) to keep each file short.
class RetainerContract(models.Model):
    """The automatic top-up of a retainer: when a posting leaves its balance
    at or below a threshold, one order of a chosen product and quantity is
    made for the customer, once per crossing. A scheduled job then charges
    it to the customer's saved payment method, or sends it to them to pay
    online (see sale_order_auto_topup.py)."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    auto_topup = fields.Boolean(
        string="Automatic top-up",
        tracking=True,
        help="When a posting leaves the balance at or below the threshold, "
        "order the top-up below for the customer, once until the balance is "
        "above the threshold again.",
        groups="base.group_user",
    )
    auto_topup_threshold_units = fields.Integer(
        string="Top up at (units)",
        tracking=True,
        help="Balance, in units, at or below which the top-up is ordered.",
        groups="base.group_user",
    )
    auto_topup_product_id = fields.Many2one(
        "product.product",
        string="Top-up product",
        tracking=True,
        domain="[('retainer_units', '>', 0), "
        "('company_id', 'in', [False, company_id])]",
        groups="base.group_user",
    )
    auto_topup_quantity = fields.Float(
        string="Top-up quantity",
        digits="Product Unit of Measure",
        tracking=True,
        help="Quantity of the top-up product ordered, in its unit of measure.",
        groups="base.group_user",
    )
    auto_topup_token_id = fields.Many2one(
        "payment.token",
        string="Saved payment method",
        tracking=True,
        domain="[('partner_id', 'child_of', partner_id), "
        "('company_id', '=', company_id)]",
        help="A payment method the customer saved when paying online. Set: "
        "each top-up is charged to it and confirmed. Empty: each top-up is "
        "emailed to the customer to pay online.",
        groups="base.group_user",
    )
    # Set when a top-up was ordered for the current crossing of the
    # threshold, cleared when the balance is above it again: one order per
    # crossing, whoever posts (written under the posting's lock).
    auto_topup_triggered = fields.Boolean(
        string="Top-up ordered",
        readonly=True,
        copy=False,
        help="A top-up was ordered when the balance reached the threshold; "
        "the next one waits until the balance is above it again.",
        groups="base.group_user",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "auto_topup",
        "auto_topup_threshold_units",
        "auto_topup_product_id",
        "auto_topup_quantity",
        "auto_topup_token_id",
        "partner_id",
        "company_id",
        "day_hours",
        "rounding_unit_minutes",
    )
    def _check_auto_topup(self):
        for contract in self:
            error = contract._retainer_auto_topup_error()
            if error:
                raise ValidationError(error)

    def _retainer_auto_topup_error(self):
        """The message of what is wrong with the automatic top-up settings
        of this retainer, or ``None``."""
        self.ensure_one()
        product = self.auto_topup_product_id
        # sudo: only the owner and company of the chosen payment method are
        # compared; a retainer manager may not read others' tokens.
        token = self.auto_topup_token_id.sudo()
        if self.auto_topup_threshold_units < 0:
            return self.env._(
                "Retainer %(name)s: the automatic top-up threshold cannot be negative.",
                name=self.name,
            )
        if self.auto_topup_quantity < 0 or (
            self.auto_topup and self.auto_topup_quantity <= 0
        ):
            return self.env._(
                "Retainer %(name)s: the automatic top-up needs a quantity "
                "greater than zero.",
                name=self.name,
            )
        if self.auto_topup and not product:
            return self.env._(
                "Retainer %(name)s: choose the product of its automatic top-up.",
                name=self.name,
            )
        if product and not self._retainer_is_topup_product(product):
            return self.env._(
                "Retainer %(name)s: %(product)s is not a retainer product of "
                "%(company)s.",
                name=self.name,
                product=product.display_name,
                company=self.company_id.name,
            )
        maximum = self._retainer_auto_topup_max_quantity()
        if maximum is not None and self.auto_topup_quantity > maximum:
            return self.env._(
                "Retainer %(name)s: the automatic top-up quantity cannot be more "
                "than %(maximum)s (%(days)s retainer days) of %(product)s, the "
                "most one top-up may order.",
                name=self.name,
                maximum=maximum,
                days=MAX_TOPUP_DAYS,
                product=product.display_name,
            )
        customer = self.partner_id.commercial_partner_id
        if token and (
            token.partner_id.commercial_partner_id != customer
            or token.company_id != self.company_id
        ):
            return self.env._(
                "Retainer %(name)s: the saved payment method %(token)s is not "
                "one of %(customer)s in %(company)s.",
                name=self.name,
                token=token.display_name,
                customer=customer.display_name,
                company=self.company_id.name,
            )
        return None

    def _retainer_auto_topup_max_quantity(self):
        """The largest quantity of the automatic top-up product one
        automatic top-up may order: ``MAX_TOPUP_DAYS`` days of this
        retainer, as one portal purchase (``None`` without a product).
        One threshold crossing charges the customer's card off session: a
        typing error must not charge millions."""
        self.ensure_one()
        product = self.auto_topup_product_id
        if not product.retainer_units or not self.rounding_unit_minutes:
            return None
        day_units = self.day_hours * 60 / self.rounding_unit_minutes
        return max_topup_quantity(product.retainer_units, day_units=day_units)

    def _retainer_auto_topup_token_error(self, token):
        """Why the saved payment method ``token`` (``payment.token``) must
        not be charged for this retainer now, or ``None``: checked at each
        charge, as its owner may have left the customer since it was
        chosen."""
        self.ensure_one()
        # sudo: only the owner, company and state of the method are read; the
        # scheduled job may not read others' tokens.
        token = token.sudo()
        customer = self.partner_id.commercial_partner_id
        if token.partner_id.commercial_partner_id != customer:
            return self.env._(
                "the saved payment method %(token)s is no longer one of "
                "%(customer)s (it belongs to %(owner)s)",
                token=token.display_name,
                customer=customer.display_name,
                owner=token.partner_id.display_name,
            )
        if token.company_id != self.company_id:
            return self.env._(
                "the saved payment method %(token)s is not one of %(company)s",
                token=token.display_name,
                company=self.company_id.name,
            )
        # An archived method or a disabled provider: payment itself refuses
        # the transaction, and the job reports it the same way.
        return None

    # === CRUD METHODS === #

    def write(self, vals):
        if "auto_topup" in vals and not vals["auto_topup"]:
            # Switched off: switched on again, the next posting at or below
            # the threshold orders.
            vals = self._retainer_client_vals(vals) | {"auto_topup_triggered": False}
            with server_values():
                return super().write(vals)
        return super().write(vals)

    # === BUSINESS METHODS === #

    def _retainer_auto_topup_watched(self, deltas):
        """The contracts of ``self`` whose automatic top-up a posting of
        ``deltas`` (contract id -> units moved) may act on: active ones it
        lowers that did not order yet, and those it raises that did."""
        return self.filtered(
            lambda c: (
                (deltas.get(c.id, 0) > 0 and c.auto_topup_triggered)
                or (
                    deltas.get(c.id, 0) < 0
                    and c.auto_topup
                    and not c.auto_topup_triggered
                    and c.state == "active"
                )
            )
        )

    def _retainer_update_auto_topup(self, deltas, balances):
        """Order the top-up of the contracts of ``self`` that a posting of
        ``deltas`` left at or below their threshold, and re-arm those back
        above it. Runs under the posting's lock, so the marker it writes
        makes one order per crossing, even with postings on several nodes
        (a concurrent posting waits, then is retried and sees the marker).

        :param dict deltas: contract id -> units the posting moved.
        :param dict balances: contract id -> balance now (under the lock).
        """
        ordering = rearmed = self.browse()
        for contract in self:
            after = balances.get(contract.id, 0)
            threshold = contract.auto_topup_threshold_units
            if contract.auto_topup_triggered:
                if after > threshold:
                    rearmed |= contract
            elif deltas.get(contract.id, 0) < 0 and after <= threshold:
                ordering |= contract
        # sudo: the markers belong to the posting, not to the user, who may
        # only read the retainer.
        with server_values():
            if rearmed:
                rearmed.sudo().auto_topup_triggered = False
            if ordering:
                ordering.sudo().auto_topup_triggered = True
            ordering._retainer_create_auto_topup_orders(balances)

    def _retainer_create_auto_topup_orders(self, balances):
        """Create the automatic top-up order of each contract of ``self``
        and wake the job that charges or sends them (never in this
        transaction: no payment or email during a posting). An order that
        cannot be made (product archived since, ...) is undone alone and
        reported to the account manager: the posting stands.

        :returns: the orders (``sale.order``)
        """
        orders = self.env["sale.order"]
        for contract in self:
            try:
                with self.env.cr.savepoint():
                    orders |= contract._retainer_create_auto_topup_order(
                        balances.get(contract.id, 0)
                    )
            except psycopg2.Error:
                raise  # a concurrency error: the whole posting is retried
            except Exception as error:  # reported below; the posting stands
                _logger.exception(
                    "Automatic top-up of retainer %s (id %s) failed",
                    contract.name,
                    contract.id,
                )
                contract._retainer_report_auto_topup(
                    self.env._(
                        "The automatic top-up of %(retainer)s could not be "
                        "ordered: %(error)s",
                        retainer=contract.name,
                        error=str(error) or type(error).__name__,
                    ),
                    summary=self.env._("Automatic top-up failed"),
                )
        if orders:
            # sudo: waking a scheduled job is the system's, not the user's.
            self.env.ref(AUTO_TOPUP_CRON).sudo()._trigger()
        return orders

    def _retainer_create_auto_topup_order(self, balance):
        """Create this retainer's automatic top-up quotation, marked for the
        job: to charge (a saved payment method is set) or to send to the
        customer to pay online in full."""
        self.ensure_one()
        charge = bool(self._retainer_auto_topup_payment_token())
        # sudo: the posting that reaches the threshold may be a consultant's
        # timesheet (no sales rights); the order is the one the retainer's
        # manager configured, for its own customer, and goes to its account
        # manager (the salesperson of orders made by the system).
        order = self.sudo()._create_topup_quotation(
            self.auto_topup_quantity,
            product=self.auto_topup_product_id,
            retainer_topup_origin="auto",
            retainer_auto_topup_state="to_charge" if charge else "to_send",
            require_payment=True,
            require_signature=False,
            prepayment_percent=1.0,
            origin=self.env._("%(retainer)s: automatic top-up", retainer=self.name),
        )
        if charge:
            text = self.env._(
                "Balance %(balance)s units, at or below %(threshold)s: automatic "
                "top-up %(order)s ordered; it will be charged to the saved "
                "payment method.",
                balance=balance,
                threshold=self.auto_topup_threshold_units,
                order=order.name,
            )
        else:
            text = self.env._(
                "Balance %(balance)s units, at or below %(threshold)s: automatic "
                "top-up %(order)s ordered; it will be sent to the customer to "
                "pay online.",
                balance=balance,
                threshold=self.auto_topup_threshold_units,
                order=order.name,
            )
        self._retainer_report_auto_topup(text)
        return order

    def _retainer_auto_topup_payment_token(self):
        """The saved payment method (``payment.token``) automatic top-ups of
        this retainer are charged to now: empty when none is set or the
        automatic top-up was switched off since the order was made."""
        self.ensure_one()
        token = self.auto_topup_token_id
        return token if self.auto_topup else token.browse()

    def _retainer_report_auto_topup(self, message, summary=None):
        """Note ``message`` on this retainer and, with ``summary``, give its
        account manager an activity."""
        self.ensure_one()
        # sudo: whoever posted (a consultant) or the scheduled job may only
        # read the retainer; the note is the system's report, not an edit.
        contract_sudo = self.sudo()
        contract_sudo.message_post(body=message, subtype_xmlid="mail.mt_note")
        if summary and self.user_id:
            contract_sudo.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=message,
                user_id=self.user_id.id,
            )
