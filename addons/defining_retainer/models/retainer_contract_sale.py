import logging
from collections import defaultdict

import psycopg2
from dateutil.relativedelta import relativedelta
from psycopg2 import OperationalError

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools.rounding import units_to_hours
from ..tools.server_values import server_values
from ..tools.units import MAX_TOPUP_DAYS, max_topup_quantity
from .res_company import TOPUP_DOCUMENT_SELECTION

_logger = logging.getLogger(__name__)

RECURRING_INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}

# Periods one run of the recurring job creates per contract at most (a plan
# started long ago catches up over several days, never in one huge batch).
RECURRING_MAX_PERIODS = 12

_logger = logging.getLogger(__name__)

AUTO_TOPUP_CRON = "defining_retainer.ir_cron_retainer_auto_topup_charge"


class RetainerContract(models.Model):
    """The selling side of a retainer: its orders and invoices, top-ups,
    the recurring top-up plan and the invoicing of overdrafts."""

    _inherit = "retainer.contract"

    # === FIELDS === #

    order_ids = fields.One2many(
        "sale.order",
        "retainer_id",
        string="Sale orders",
        groups="sales_team.group_sale_salesman,account.group_account_invoice",
    )
    overdraft_invoice_ids = fields.One2many(
        "account.move",
        "retainer_overdraft_id",
        groups="sales_team.group_sale_salesman,account.group_account_invoice",
    )
    sale_order_count = fields.Integer(
        compute="_compute_sale_counts",
        groups="sales_team.group_sale_salesman,account.group_account_invoice",
    )
    invoice_count = fields.Integer(
        compute="_compute_sale_counts",
        groups="sales_team.group_sale_salesman,account.group_account_invoice",
    )
    overdraft_mode = fields.Selection(
        related="company_id.retainer_overdraft_mode", groups="base.group_user"
    )
    # Never read by a posting: in a prefetch group of its own, out of the
    # contract row every timesheet save reads (see README, Performance).
    recurring_quantity = fields.Float(
        string="Days per period",
        digits=(16, 2),
        tracking=True,
        help="Retainer days ordered automatically each period. 0: no plan.",
        groups="base.group_user",
        prefetch="retainer_recurring",
    )
    recurring_interval = fields.Selection(
        [("month", "Month"), ("quarter", "Quarter"), ("year", "Year")],
        string="Every",
        tracking=True,
        groups="base.group_user",
        prefetch="retainer_recurring",
    )
    recurring_start_date = fields.Date(
        tracking=True, groups="base.group_user", prefetch="retainer_recurring"
    )
    recurring_next_date = fields.Date(
        compute="_compute_recurring_next_date",
        store=True,
        readonly=False,
        copy=False,
        tracking=True,
        help="Start of the next period to order: the scheduled job prepares "
        "its document on that day.",
        groups="base.group_user",
        prefetch="retainer_recurring",
    )
    recurring_document = fields.Selection(
        TOPUP_DOCUMENT_SELECTION,
        string="Recurring document",
        default=lambda self: self.env.company.retainer_topup_document,
        groups="base.group_user",
        prefetch="retainer_recurring",
    )
    recurring_auto_confirm = fields.Boolean(
        string="Confirm automatically",
        help="Confirm the quotation, or post the invoice, as soon as it is "
        "created. Otherwise a salesperson sends it.",
        groups="base.group_user",
        prefetch="retainer_recurring",
    )

    # === COMPUTE METHODS === #

    def _compute_sale_counts(self):
        counts = dict(
            self.env["sale.order"]._read_group(
                [("retainer_id", "in", self._origin.ids)], ["retainer_id"], ["__count"]
            )
        )
        for contract in self:
            contract.sale_order_count = counts.get(contract._origin, 0)
            contract.invoice_count = len(contract._origin._retainer_invoices())

    @api.depends("recurring_start_date")
    def _compute_recurring_next_date(self):
        for contract in self:
            contract.recurring_next_date = contract.recurring_start_date

    # === CONSTRAINT METHODS === #

    @api.constrains("recurring_quantity", "recurring_interval", "recurring_start_date")
    def _check_recurring_plan(self):
        for contract in self:
            if contract.recurring_quantity < 0:
                raise ValidationError(
                    self.env._("A recurring top-up cannot order negative days.")
                )
            planned = (
                contract.recurring_quantity
                or contract.recurring_interval
                or contract.recurring_start_date
            )
            if planned and not (
                contract.recurring_quantity > 0
                and contract.recurring_interval
                and contract.recurring_start_date
            ):
                raise ValidationError(
                    self.env._(
                        "The recurring top-up of %(retainer)s needs a number of "
                        "days, a period and a start date.",
                        retainer=contract.name,
                    )
                )

    # === ACTION METHODS === #

    def action_view_sale_orders(self):
        self.ensure_one()
        return self.order_ids._get_records_action(
            name=self.env._("Orders of %(name)s", name=self.name),
            context={
                "default_partner_id": self.partner_id.id,
                "default_retainer_id": self.id,
                "default_company_id": self.company_id.id,
            },
        )

    def action_view_invoices(self):
        self.ensure_one()
        return self._retainer_invoices()._get_records_action(
            name=self.env._("Invoices of %(name)s", name=self.name),
            context={"create": False},
        )

    def action_invoice_overdraft(self):
        self.ensure_one()
        invoice = self._retainer_invoice_overdraft()
        return invoice._get_records_action(name=self.env._("Overdraft invoice"))

    # === BUSINESS METHODS: top-ups === #

    def _retainer_invoices(self):
        """Customer invoices and credit notes of this retainer's orders, and
        its overdraft invoices."""
        return (self.order_ids.invoice_ids | self.overdraft_invoice_ids).filtered(
            lambda m: m.move_type in ("out_invoice", "out_refund")
        )

    def _retainer_check_topup(self, quantity, unit, product=None):
        self.ensure_one()
        if self.state == "closed":
            raise UserError(
                self.env._(
                    "Retainer %(name)s is closed: reopen it before topping it up.",
                    name=self.name,
                )
            )
        if product is not None:
            if not self._retainer_is_topup_product(product):
                raise UserError(
                    self.env._(
                        "%(product)s is not a retainer product of %(company)s.",
                        product=product.display_name,
                        company=self.company_id.name,
                    )
                )
        elif unit not in ("day", "hour"):
            raise UserError(self.env._("A top-up is sold in days or in hours."))
        if not quantity or quantity <= 0:
            raise UserError(self.env._("A top-up needs a positive quantity."))

    def _retainer_is_topup_product(self, product):
        """Whether ``product`` (``product.product``) can top up this
        retainer: an active retainer product shared or of its company."""
        self.ensure_one()
        return bool(
            product.active
            and product.retainer_units > 0
            and (not product.company_id or product.company_id == self.company_id)
        )

    def _prepare_topup_order_vals(
        self, quantity, unit=None, product=None, **extra_vals
    ):
        """Values of a quotation selling ``quantity`` of ``product``
        (``product.product``; default: the company's product for ``unit``,
        'day' or 'hour') to this retainer's customer. Pricelist, taxes,
        fiscal position and currency follow from the customer as on any
        order."""
        self.ensure_one()
        product = product or self.company_id._retainer_product(unit)
        vals = {
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "retainer_id": self.id,
            "origin": self.name,
            "order_line": [
                Command.create({"product_id": product.id, "product_uom_qty": quantity})
            ],
        }
        # The salesperson preparing it, else (scheduled job, customer portal)
        # the retainer's account manager.
        salesperson = self.env.user
        if self.env.su or salesperson.share:
            salesperson = self.user_id
        if salesperson:
            vals["user_id"] = salesperson.id
        return vals | extra_vals

    def _create_topup_quotation(self, quantity, unit="day", product=None, **extra_vals):
        """Create and return a quotation (``sale.order``) topping up this
        retainer by ``quantity`` days or hours (``unit`` 'day' or 'hour'),
        or by ``quantity`` of ``product`` (a retainer product) when given.

        Also used by the customer portal's top-up request. The caller needs
        the right to create sale orders (the portal calls it in sudo once it
        has checked the customer's access to the retainer).

        :raises UserError: the retainer is closed, the quantity is not
            positive, the unit is unknown or no product is set for it, or
            ``product`` is no retainer product of the retainer's company.
        """
        self._retainer_check_topup(quantity, unit, product)
        vals = self._prepare_topup_order_vals(
            quantity, unit, product=product, **extra_vals
        )
        # The top-up's origin (and an automatic top-up's state) are values
        # only the server sets: these are built here, none is a client's.
        with server_values():
            return self.env["sale.order"].with_company(self.company_id).create(vals)

    def _create_topup_invoice(self, quantity, unit="day", **extra_vals):
        """Same as ``_create_topup_quotation`` but confirm the order and
        return its draft invoice (``account.move``). The credit then follows
        the company's credit trigger like any order."""
        order = self._create_topup_quotation(quantity, unit, **extra_vals)
        order.action_confirm()
        return order._create_invoices()

    # === BUSINESS METHODS: recurring top-ups === #

    def _recurring_delta(self):
        self.ensure_one()
        return relativedelta(months=RECURRING_INTERVAL_MONTHS[self.recurring_interval])

    @api.model
    def _cron_recurring_topups(self):
        """Scheduled job: prepare the documents of every due recurring
        top-up. Idempotent: a period that already has its order is skipped,
        so running twice creates nothing more."""
        today = fields.Date.context_today(self)
        contracts = self.search(
            [
                ("state", "=", "active"),
                ("recurring_quantity", ">", 0),
                ("recurring_interval", "!=", False),
                ("recurring_next_date", "<=", today),
            ]
        )
        # One savepoint per contract: a plan that cannot be ordered (its
        # customer moved to another company, a product archived...) is
        # reported to its account manager and the others still run.
        for contract in contracts:
            try:
                with self.env.cr.savepoint():
                    contract.with_company(
                        contract.company_id
                    )._retainer_generate_recurring(today)
            except OperationalError:
                raise  # a concurrency error: the whole job is retried
            except Exception as error:  # reported below; the run goes on
                _logger.exception(
                    "Recurring top-up of retainer %s (id %s) failed",
                    contract.name,
                    contract.id,
                )
                contract._retainer_report_recurring_failure(error)

    def _retainer_report_recurring_failure(self, error):
        """Tell the account manager of this retainer that its recurring
        top-up failed, once while the activity is open."""
        self._schedule_manager_todo(
            self.env._("Recurring top-up failed"),
            self.env._(
                "The recurring top-up of %(retainer)s could not be prepared; "
                "it will be tried again on the next run: %(error)s",
                retainer=self.name,
                error=str(error),
            ),
            once=True,
        )

    def _retainer_generate_recurring(self, today):
        """Create the orders (and invoices) of the due periods of ``self``
        up to ``today`` and move each plan to its next period. Batched: the
        number of queries per contract does not grow with the batch."""
        SaleOrder = self.env["sale.order"]
        done = {
            (order.retainer_id.id, order.retainer_recurring_period_start)
            for order in SaleOrder.search_fetch(
                [
                    ("retainer_id", "in", self.ids),
                    ("retainer_recurring_period_start", "!=", False),
                ],
                ["retainer_id", "retainer_recurring_period_start"],
            )
        }
        vals_list = []
        next_dates = defaultdict(lambda: self.browse())
        for contract in self:
            start = contract.recurring_next_date
            for _period in range(RECURRING_MAX_PERIODS):
                if start > today:
                    break
                if (contract.id, start) not in done:
                    vals_list.append(contract._prepare_recurring_order_vals(start))
                start += contract._recurring_delta()
            next_dates[start] |= contract
        with server_values():  # origin and period: the job's own values
            orders = SaleOrder.create(vals_list)
        invoiced = orders.filtered(
            lambda o: o.retainer_id.recurring_document == "invoice"
        )
        confirmed = invoiced | orders.filtered("retainer_id.recurring_auto_confirm")
        confirmed.action_confirm()
        if invoiced:
            auto = invoiced.filtered("retainer_id.recurring_auto_confirm")
            invoices = invoiced._create_invoices(grouped=True)
            invoices.filtered(
                lambda m: m.invoice_line_ids.sale_line_ids.order_id & auto
            ).action_post()
        for next_date, contracts in next_dates.items():
            contracts.recurring_next_date = next_date
        return orders

    def _prepare_recurring_order_vals(self, start):
        self.ensure_one()
        end = start + self._recurring_delta() - relativedelta(days=1)
        return self._prepare_topup_order_vals(
            self.recurring_quantity,
            "day",
            retainer_recurring_period_start=start,
            retainer_topup_origin="recurring",
            origin=self.env._(
                "%(retainer)s: recurring top-up %(start)s - %(end)s",
                retainer=self.name,
                start=start,
                end=end,
            ),
        )

    # === BUSINESS METHODS: overdrafts === #

    def _retainer_invoice_overdraft(self):
        """Invoice the units below zero, in hours of the overage product
        priced as a sale to the customer (their pricelist and currency), and
        credit them back with the invoice as source, so the balance returns
        to zero. The invoice is left in draft; cancelling it
        or a credit note takes the units back.

        :raises UserError: overdrafts are netted in this company, or there
            is no overdraft.
        :return: the draft invoice (``account.move``)
        """
        self.ensure_one()
        Ledger = self.env["retainer.ledger.entry"]
        if self.company_id.retainer_overdraft_mode != "invoice":
            raise UserError(
                self.env._(
                    "%(company)s nets overdrafts against the next top-up: "
                    "there is nothing to invoice.",
                    company=self.company_id.name,
                )
            )
        # Lock first so that two users cannot invoice the same overdraft.
        self._lock_for_posting(bump=True)
        balance = Ledger._retainer_current_balances(self.ids).get(self.id, 0)
        if balance >= 0:
            raise UserError(
                self.env._(
                    "Retainer %(name)s has no overdraft to invoice (balance "
                    "%(balance)s).",
                    name=self.name,
                    balance=self._format_units(balance),
                )
            )
        units = -balance
        product = self.company_id._retainer_product("overage")
        hours = units_to_hours(units, self.rounding_unit_minutes)
        line_vals = {
            "product_id": product.id,
            "quantity": hours,
            "name": self.env._(
                "%(product)s: overdraft of retainer %(retainer)s, %(units)s",
                product=product.display_name,
                retainer=self.name,
                units=self._format_units(units),
            ),
        }
        move_vals = {
            "move_type": "out_invoice",
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "invoice_origin": self.name,
            "invoice_user_id": self.user_id.id,
            "retainer_overdraft_id": self.id,
            "retainer_overdraft_units": units,
            "retainer_overdraft_product_id": product.id,
        }
        price_move_vals, price_line_vals = self._retainer_overdraft_price_vals(
            product, hours
        )
        # The overdraft's retainer, units and product are the server's values
        # (never more than the overdraft measured above).
        with server_values():
            invoice = (
                self.env["account.move"]
                .with_company(self.company_id)
                .create(
                    move_vals
                    | price_move_vals
                    | {
                        "invoice_line_ids": [
                            Command.create(line_vals | price_line_vals)
                        ]
                    }
                )
            )
        Ledger._post([self._retainer_prepare_overdraft_credit_vals(invoice, units)])
        # sudo: posting a note needs write access to the retainer, which an
        # accountant invoicing its overdraft does not have.
        self.sudo().message_post(
            body=self.env._(
                "Overdraft of %(units)s invoiced.", units=self._format_units(units)
            )
        )
        return invoice

    def _retainer_overdraft_price_vals(self, product, hours):
        """Price ``hours`` hours of the overage ``product`` for this
        retainer's customer as a sale order to them would: in the currency
        of their pricelist, at its price for that quantity today, adapted to
        their fiscal position's taxes (a price including a tax that the
        position replaces). Without a pricelist the invoice prices the
        product itself (sales price in the company's currency).

        :returns: ``(move_vals, line_vals)``, the currency and fiscal
            position of the invoice, the unit of measure and price of its
            line.
        :raises ValidationError: the product is sold neither in time nor in
            Units (its quantity could not be hours).
        """
        self.ensure_one()
        company = self.company_id
        hour = self.env.ref("uom.product_uom_hour")
        uom = hour if product.uom_id.category_id == hour.category_id else product.uom_id
        uom._retainer_size(self.day_hours, product)  # time or Units only
        line_vals = {"product_uom_id": uom.id}
        partner = self.partner_id.with_company(company)
        pricelist = partner.property_product_pricelist
        if not pricelist:
            return {}, line_vals
        fiscal_position = (
            self.env["account.fiscal.position"]
            .with_company(company)
            ._get_fiscal_position(partner)
        )
        price = pricelist._get_product_price(
            product.with_company(company),
            hours,
            currency=pricelist.currency_id,
            uom=uom,
            date=fields.Date.context_today(self),
        )
        line_vals["price_unit"] = product._get_tax_included_unit_price_from_price(
            price,
            product.taxes_id.filtered(lambda tax: tax.company_id == company),
            fiscal_position=fiscal_position,
        )
        move_vals = {
            "currency_id": pricelist.currency_id.id,
            "fiscal_position_id": fiscal_position.id,
        }
        return move_vals, line_vals

    def _retainer_prepare_overdraft_credit_vals(self, invoice, units):
        self.ensure_one()
        return {
            "contract_id": self.id,
            "kind": "credit",
            "units": units,
            "invoice_id": invoice.id,
            "topup_origin": "overdraft",
            "name": self.env._(
                "Overdraft invoiced: %(invoice)s", invoice=invoice.display_name
            ),
            "date": fields.Date.context_today(self),
        }

    @api.model
    def _cron_invoice_overdrafts(self):
        """Scheduled job (monthly): invoice the overdrafts of the companies
        that invoice them automatically. Idempotent: an invoiced overdraft
        brings the balance back to zero."""
        companies = self.env["res.company"].search(
            [
                ("retainer_overdraft_mode", "=", "invoice"),
                ("retainer_overdraft_auto_invoice", "=", True),
            ]
        )
        contracts = self.search(
            [("company_id", "in", companies.ids), ("state", "!=", "draft")]
        )
        totals = self.env["retainer.ledger.entry"]._retainer_totals(contracts.ids)
        for contract in contracts.filtered(lambda c: totals[c.id]["balance"] < 0):
            contract.with_company(contract.company_id)._retainer_invoice_overdraft()

    # -------------------------------------------------------------------------
    # AUTOMATIC TOP-UP
    # -------------------------------------------------------------------------
    # The automatic top-up of a retainer: when a posting leaves its balance
    # at or below a threshold, one order of a chosen product and quantity is
    # made for the customer, once per crossing. A scheduled job then charges
    # it to the customer's saved payment method, or sends it to them to pay
    # online (see sale_order.py).

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

    # Never read by a posting: in a prefetch group of its own, out of the
    # contract row every timesheet save reads (see README, Performance).
    auto_topup_product_id = fields.Many2one(
        "product.product",
        string="Top-up product",
        tracking=True,
        domain="[('retainer_units', '>', 0), "
        "('company_id', 'in', [False, company_id])]",
        groups="base.group_user",
        prefetch="retainer_auto_topup",
    )

    auto_topup_quantity = fields.Float(
        string="Top-up quantity",
        digits="Product Unit of Measure",
        tracking=True,
        help="Quantity of the top-up product ordered, in its unit of measure.",
        groups="base.group_user",
        prefetch="retainer_auto_topup",
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
        prefetch="retainer_auto_topup",
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

    def write(self, vals):
        vals = self._retainer_client_vals(vals)
        if "auto_topup" in vals and not vals["auto_topup"]:
            # Switched off: switched on again, the next posting at or below
            # the threshold orders.
            vals = vals | {"auto_topup_triggered": False}
            with server_values():
                return super().write(vals)
        return super().write(vals)

    def _retainer_balance_watched(self, deltas):
        return super()._retainer_balance_watched(
            deltas
        ) | self._retainer_auto_topup_watched(deltas)

    def _retainer_balance_changed(self, deltas, balances):
        # Selected before the alerts run: their emails and notes may drop
        # the contracts from the cache, and reading them again costs a query.
        auto_topup = self._retainer_auto_topup_watched(deltas)
        result = super()._retainer_balance_changed(deltas, balances)
        auto_topup._retainer_update_auto_topup(deltas, balances)
        return result

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
        if summary:
            self._schedule_manager_todo(summary, message)

    # -------------------------------------------------------------------------
    # REVENUE
    # -------------------------------------------------------------------------
    # Revenue of a retainer: what its customer paid for time not used yet,
    # and what was recognised (see models/retainer_revenue_line.py).

    company_currency_id = fields.Many2one(related="company_id.currency_id")

    unearned_value = fields.Monetary(
        string="Unearned value",
        currency_field="company_currency_id",
        compute="_compute_revenue_values",
        groups="account.group_account_invoice",
        help="Value of the paid units not used nor expired yet (deferred "
        "revenue once everything earned is recognised).",
    )

    recognized_value = fields.Monetary(
        string="Recognised to date",
        currency_field="company_currency_id",
        compute="_compute_revenue_values",
        groups="account.group_account_invoice",
        help="Revenue recognised from this retainer's paid units so far.",
    )

    revenue_line_ids = fields.One2many(
        "retainer.revenue.line",
        "contract_id",
        string="Recognised revenue",
        groups="account.group_account_invoice",
    )

    def _prepare_manual_entry_vals(
        self, vals, unit_value=0.0, value_account=None, **options
    ):
        # A credit given a value per unit: put on the deferred revenue
        # account against ``value_account`` (see _retainer_post_manual_value)
        # and recognised as it is used.
        vals = super()._prepare_manual_entry_vals(vals, **options)
        if unit_value:
            if vals["kind"] != "credit":
                raise UserError(self.env._("Only a credit can be given a value."))
            if vals["expiry_date"]:
                # Checked before the value's journal entry is posted.
                self.env["retainer.ledger.entry"]._check_block_dates(vals)
            vals |= self._retainer_post_manual_value(
                vals["units"], unit_value, value_account, vals["date"], vals["reason"]
            )
        return vals

    def _retainer_post_manual_value(self, units, unit_value, account, date, reason):
        """Put the value of a manual credit of ``units`` at ``unit_value``
        (company currency) on the deferred revenue account, against
        ``account`` (e.g. the opening balance account for a balance taken
        over from another system, an expense account for goodwill), so that
        its use is recognised like a sold block's and the deferred revenue
        report still equals the account.

        :returns: the ledger values of the credit's value.
        :raises AccessError: the user is not an accounting manager.
        :raises UserError: a negative value, a company that does not defer
            retainer revenue, no counterpart account or the deferred
            revenue account itself.
        """
        self.ensure_one()
        company = self.company_id
        if unit_value < 0:
            raise UserError(self.env._("A credit's value per unit cannot be negative."))
        if not self.env.user.has_group("account.group_account_manager"):
            raise AccessError(
                self.env._("Only accounting managers can give a credit a value.")
            )
        if not company.retainer_defer_revenue:
            raise UserError(
                self.env._(
                    "%(company)s does not defer retainer revenue: a credit's value "
                    "is only recorded when it does (Settings > Retainers).",
                    company=company.name,
                )
            )
        company._retainer_check_revenue_settings(required=True)
        deferred = company.retainer_deferred_account_id
        if not account or account == deferred:
            raise UserError(
                self.env._(
                    "Choose the account the credit's value comes from (not the "
                    "deferred revenue account), e.g. the opening balance account "
                    "for a balance taken over from another system."
                )
            )
        amount = company.currency_id.round(units * unit_value)
        partner = self.partner_id.commercial_partner_id.id
        RevenueLine = self.env["retainer.revenue.line"]
        # sudo: an accounting manager (checked above) posts the entry in the
        # retainer revenue journal whatever their other groups.
        move = RevenueLine.sudo()._retainer_post_entry(
            company,
            RevenueLine._retainer_recognition_date(company, date),
            self.env._(
                "Value of a credit of %(units)s on retainer %(retainer)s: %(reason)s",
                units=self._format_units(units),
                retainer=self.name,
                reason=reason,
            ),
            [(partner, account.id, amount), (partner, deferred.id, -amount)],
        )
        return {"manual_unit_value": unit_value, "value_move_id": move.id}

    def _compute_revenue_values(self):
        RevenueLine = self.env["retainer.revenue.line"].sudo()
        # sudo: figures of the retainers shown; the fields are limited to
        # invoicing users.
        sale_lines = (
            self.env["retainer.ledger.entry"]
            .sudo()
            .search(
                [("contract_id", "in", self._origin.ids), ("sale_line_id", "!=", False)]
            )
            .sale_line_id
        )
        unearned = defaultdict(float)
        pools = RevenueLine._retainer_pools(
            sale_lines=sale_lines, contracts=self._origin
        )
        for pool in pools.values():
            unearned[pool.contract_id] += pool.unearned
        recognized = {
            contract.id: value
            for contract, value in RevenueLine._read_group(
                [("contract_id", "in", self._origin.ids)],
                ["contract_id"],
                ["value:sum"],
            )
        }
        for contract in self:
            contract.unearned_value = unearned[contract._origin.id]
            contract.recognized_value = recognized.get(contract._origin.id, 0.0)

    # -------------------------------------------------------------------------
    # WORK OUTSIDE THE LEVEL
    # -------------------------------------------------------------------------
    # Time billed outside the retainer: a contact type its level does not
    # include, in a company that bills such time (``retainer_outside_level``).
    # It uses no units. A project sold by the hour bills it through its order
    # line like any other time; otherwise it is invoiced here, in hours of the
    # overage product at the customer's price.

    outside_hours_to_invoice = fields.Float(
        string="Time outside the level to invoice",
        compute="_compute_outside_hours_to_invoice",
        groups="account.group_account_invoice",
        help="Hours billed outside the retainer that no order line bills and "
        "that are not invoiced yet.",
    )

    def _compute_outside_hours_to_invoice(self):
        # sudo: sums hours of this retainer's timesheets for an accountant,
        # who may not read timesheets.
        hours = dict(
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                self._retainer_outside_to_invoice_domain(),
                ["retainer_id"],
                ["unit_amount:sum"],
            )
        )
        for contract in self:
            contract.outside_hours_to_invoice = hours.get(contract._origin.sudo(), 0.0)

    def action_invoice_outside_level(self):
        self.ensure_one()
        invoice = self._retainer_invoice_outside_level()
        return invoice._get_records_action(
            name=self.env._("Invoice of work outside the level")
        )

    def _retainer_outside_to_invoice_domain(self):
        """Timesheets of ``self`` billed outside the retainer that no order
        line bills and no live invoice holds (as sale_timesheet tells which
        timesheets are still to invoice)."""
        return [
            ("retainer_id", "in", self._origin.ids),
            ("retainer_billed_outside", "=", True),
            ("so_line", "=", False),
            ("unit_amount", ">", 0),
            "|",
            "|",
            ("timesheet_invoice_id", "=", False),
            ("timesheet_invoice_id.state", "=", "cancel"),
            ("timesheet_invoice_id.payment_state", "=", "reversed"),
        ]

    def _retainer_invoice_outside_level(self):
        """Invoice, in draft, the time billed outside this retainer that no
        order line bills: hours of the overage product priced for the
        customer (as an overdraft is), and link the timesheets to the
        invoice so that they are invoiced once.

        :raises UserError: there is no such time to invoice.
        :return: the draft invoice (``account.move``)
        """
        self.ensure_one()
        # sudo: the accountant invoicing may not read timesheets; they are
        # then linked to the invoice as sale_timesheet links the timesheets
        # of an order it invoices.
        timesheets = (
            self.env["account.analytic.line"]
            .sudo()
            .search(self._retainer_outside_to_invoice_domain(), order="date, id")
        )
        if not timesheets:
            raise UserError(
                self.env._(
                    "Retainer %(name)s has no time billed outside its level left "
                    "to invoice.",
                    name=self.name,
                )
            )
        company = self.company_id
        hour = self.env.ref("uom.product_uom_hour")
        hours = sum(
            (uom or hour)._compute_quantity(sum(lines.mapped("unit_amount")), hour)
            for uom, lines in timesheets.grouped("product_uom_id").items()
        )
        product = company._retainer_product("overage")
        line_vals = {
            "product_id": product.id,
            "quantity": hours,
            "name": self.env._(
                "%(product)s: work outside the level of retainer %(retainer)s "
                "(%(count)s timesheets, %(first)s - %(last)s)",
                product=product.display_name,
                retainer=self.name,
                count=len(timesheets),
                first=timesheets[0].date,
                last=timesheets[-1].date,
            ),
        }
        price_move_vals, price_line_vals = self._retainer_overdraft_price_vals(
            product, hours
        )
        invoice = (
            self.env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_id.id,
                    "company_id": company.id,
                    "invoice_origin": self.name,
                    "invoice_user_id": self.user_id.id,
                    "invoice_line_ids": [Command.create(line_vals | price_line_vals)],
                }
                | price_move_vals
            )
        )
        timesheets.write({"timesheet_invoice_id": invoice.id})
        return invoice


class RetainerLedgerEntry(models.Model):
    """The value of a credit block: what one of its units was paid."""

    _inherit = "retainer.ledger.entry"

    company_currency_id = fields.Many2one(related="contract_id.company_id.currency_id")
    unit_value = fields.Monetary(
        currency_field="company_currency_id",
        compute="_compute_unit_value",
        groups="account.group_account_invoice",
        help="For a block: the untaxed amount paid per unit (deferred invoices "
        "less credit notes of its order line, in company currency). A "
        "rolled-over block has the value of the block it comes from; a "
        "manual credit has the value given when it was posted, or none.",
    )
    manual_unit_value = fields.Monetary(
        string="Given value per unit",
        currency_field="company_currency_id",
        readonly=True,
        groups="account.group_account_invoice",
        help="A manual credit's value per unit, given when it was posted "
        "(e.g. a balance taken over from another system).",
    )
    value_move_id = fields.Many2one(
        "account.move",
        string="Value entry",
        readonly=True,
        index="btree_not_null",
        groups="account.group_account_invoice",
        help="The journal entry that put a valued manual credit on the "
        "deferred revenue account.",
    )
    value_pending = fields.Boolean(
        compute="_compute_unit_value",
        groups="account.group_account_invoice",
        help="Credited before its invoice is posted: the value is known, and "
        "its use recognised, once the invoice is posted.",
    )

    def _compute_unit_value(self):
        # The sold line of each block: its own, or that of the block its
        # units rolled over from.
        origin = {}
        root = {}
        for entry in self.sorted("id"):
            block = entry
            seen = set()
            while block.block_entry_id and not block.sale_line_id and block not in seen:
                seen.add(block)
                block = block.block_entry_id
            origin[entry] = block.sale_line_id
            root[entry] = block
        sale_lines = self.env["sale.order.line"].union(*origin.values())
        pools = (
            self.env["retainer.revenue.line"]
            .sudo()
            ._retainer_pools(sale_lines=sale_lines)
            if sale_lines
            else {}
        )
        for entry in self:
            sale_line = origin[entry]
            pool = pools.get(sale_line.id)
            entry.unit_value = pool.unit_value if pool and entry.is_block else 0.0
            if entry.is_block and root[entry].value_move_id:
                entry.unit_value = root[entry].manual_unit_value
            entry.value_pending = bool(
                entry.is_block
                and sale_line
                and entry.company_id.retainer_defer_revenue
                and not (pool and pool.paid_units)
            )
