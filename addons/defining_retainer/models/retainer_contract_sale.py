import logging
from collections import defaultdict

from dateutil.relativedelta import relativedelta
from psycopg2 import OperationalError

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools.rounding import units_to_hours
from ..tools.server_values import server_values
from .res_company import TOPUP_DOCUMENT_SELECTION

_logger = logging.getLogger(__name__)

RECURRING_INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}
# Periods one run of the recurring job creates per contract at most (a plan
# started long ago catches up over several days, never in one huge batch).
RECURRING_MAX_PERIODS = 12


# One model, one file per concern (core, posting, blocks, sales) to keep
# each file short.
class RetainerContract(models.Model):
    """The selling side of a retainer: its orders and invoices, top-ups,
    the recurring top-up plan and the invoicing of overdrafts."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

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
    recurring_quantity = fields.Float(
        string="Days per period",
        digits=(16, 2),
        tracking=True,
        help="Retainer days ordered automatically each period. 0: no plan.",
        groups="base.group_user",
    )
    recurring_interval = fields.Selection(
        [("month", "Month"), ("quarter", "Quarter"), ("year", "Year")],
        string="Every",
        tracking=True,
        groups="base.group_user",
    )
    recurring_start_date = fields.Date(tracking=True, groups="base.group_user")
    recurring_next_date = fields.Date(
        compute="_compute_recurring_next_date",
        store=True,
        readonly=False,
        copy=False,
        tracking=True,
        help="Start of the next period to order: the scheduled job prepares "
        "its document on that day.",
        groups="base.group_user",
    )
    recurring_document = fields.Selection(
        TOPUP_DOCUMENT_SELECTION,
        string="Recurring document",
        default=lambda self: self.env.company.retainer_topup_document,
        groups="base.group_user",
    )
    recurring_auto_confirm = fields.Boolean(
        string="Confirm automatically",
        help="Confirm the quotation, or post the invoice, as soon as it is "
        "created. Otherwise a salesperson sends it.",
        groups="base.group_user",
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
        self.ensure_one()
        summary = self.env._("Recurring top-up failed")
        if not self.user_id or self.activity_ids.filtered(
            lambda activity: activity.summary == summary
        ):
            return
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=self.env._(
                "The recurring top-up of %(retainer)s could not be prepared; "
                "it will be tried again on the next run: %(error)s",
                retainer=self.name,
                error=str(error),
            ),
            user_id=self.user_id.id,
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
