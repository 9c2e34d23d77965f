from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import format_date, split_every

from ..tools.rounding import units_to_hours
from ..tools.units import quantity_to_units, units_per_quantity

PAID_STATES = ("paid", "in_payment")


class SaleOrderLine(models.Model):
    _name = "sale.order.line"
    _inherit = ["sale.order.line", "retainer.server.values.mixin"]

    # The units a line credits are its product's when sold: computed, never
    # a client's value.
    _retainer_server_fields = frozenset(
        {"retainer_product_units", "retainer_product_uom_id"}
    )

    # Snapshot of the product's units, so that editing the product later
    # never re-prices an order already sold.
    retainer_product_units = fields.Integer(
        string="Retainer units per unit",
        compute="_compute_retainer_product_units",
        store=True,
        precompute=True,
    )
    retainer_product_uom_id = fields.Many2one(
        "uom.uom",
        string="Retainer units per",
        compute="_compute_retainer_product_units",
        store=True,
        precompute=True,
        help="Unit of measure of the product when it was sold: the retainer "
        "units are per one of it.",
    )
    retainer_credited_units = fields.Integer(
        compute="_compute_retainer_credited_units",
        help="Units this line has credited to the retainer so far.",
        groups="base.group_user",
    )

    retainer_credit_text = fields.Char(
        string="Retainer credit",
        compute="_compute_retainer_credit_text",
        help="What the line credits to the retainer: its units and the time "
        "they stand for.",
    )

    retainer_delivered_text = fields.Char(
        string="Delivered",
        compute="_compute_retainer_delivered_text",
        help="What a confirmed order line has credited to its retainer: the "
        "units, the time they stand for and the date of the last credit.",
    )

    @api.depends(
        "product_uom_qty",
        "product_uom",
        "retainer_product_units",
        "order_id.retainer_id",
    )
    def _compute_retainer_credit_text(self):
        for line in self:
            line.retainer_credit_text = line._retainer_credit_text(line.product_uom_qty)

    def _retainer_credit_text(self, qty):
        """``56 units, 14 h``: what ``qty`` (in the line's unit) credits;
        empty for a line that credits no retainer."""
        self.ensure_one()
        if not self.retainer_product_units or not self.product_uom:
            return False
        try:
            units = self._retainer_qty_to_units(qty)
        except (ValidationError, ValueError):
            return False  # the constraint names the wrong unit on saving
        unit_minutes = (
            self.order_id.retainer_id.rounding_unit_minutes
            or self.company_id.retainer_rounding_unit_minutes
            or 15
        )
        return self.env._(
            "%(units)s units, %(duration)s",
            units=units,
            duration=self.env["retainer.contract"]._format_duration(
                units_to_hours(units, unit_minutes)
            ),
        )

    def _compute_retainer_delivered_text(self):
        # One read for all lines: the ledger's credits (less what was taken
        # back) of each line, per unit length, and the last credit's date.
        # sudo: the customer reads their confirmed order on the portal,
        # where the order's lines are read as sudo already; only sums of
        # the lines' own entries are read.
        groups = (
            self.env["retainer.ledger.entry"]
            .sudo()
            ._read_group(
                [("sale_line_id", "in", self._origin.ids)],
                ["sale_line_id", "unit_minutes"],
                ["units:sum", "date:max"],
            )
        )
        delivered = defaultdict(lambda: [0, 0.0, False])
        for line, unit_minutes, units, date in groups:
            total = delivered[line.id]
            total[0] += units
            total[1] += units_to_hours(units, unit_minutes or 15)
            total[2] = max(total[2] or date, date)
        format_duration = self.env["retainer.contract"]._format_duration
        for line in self:
            total = delivered.get(line._origin.id)
            line.retainer_delivered_text = (
                self.env._(
                    "%(units)s units, %(duration)s credited on %(date)s",
                    units=total[0],
                    duration=format_duration(total[1]),
                    date=format_date(self.env, total[2]),
                )
                if total and total[0]
                else False
            )

    @api.depends("product_id")
    def _compute_retainer_product_units(self):
        for line in self:
            line.retainer_product_units = line.product_id.retainer_units
            line.retainer_product_uom_id = line.product_id.uom_id

    def _compute_retainer_credited_units(self):
        groups = self.env["retainer.ledger.entry"]._read_group(
            [("sale_line_id", "in", self._origin.ids)], ["sale_line_id"], ["units:sum"]
        )
        credited = {line.id: units for line, units in groups}
        for line in self:
            line.retainer_credited_units = credited.get(line._origin.id, 0)

    @api.constrains("product_id", "product_uom")
    def _check_retainer_uom(self):
        for line in self.filtered("retainer_product_units"):
            line._retainer_uom_size(line.product_uom)

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.filtered(
            lambda line: line.state == "sale" and line.retainer_product_units
        )._retainer_sync_credits(assign=True)
        return lines

    def write(self, vals):
        result = super().write(vals)
        if {"product_id", "product_uom_qty", "product_uom"}.intersection(vals):
            self.filtered(lambda line: line.state == "sale")._retainer_sync_credits(
                assign=True
            )
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_retainer_ledger(self):
        # sudo: only counts entries, so that users without retainer rights
        # get the clear message below instead of an access error.
        if self and self.env["retainer.ledger.entry"].sudo().search_count(
            [("sale_line_id", "in", self.ids)], limit=1
        ):
            raise UserError(
                self.env._(
                    "This order has credited a retainer: its history must keep "
                    "it. Cancel the order instead of deleting it."
                )
            )

    def _timesheet_compute_delivered_quantity_domain(self):
        # Time consumed from a retainer is paid by the retainer: it never
        # counts as delivered on an order line too. Time billed outside the
        # retainer (a contact type its level does not include) does.
        return expression.AND(
            [
                super()._timesheet_compute_delivered_quantity_domain(),
                [
                    "|",
                    ("retainer_id", "=", False),
                    ("retainer_billed_outside", "=", True),
                ],
            ]
        )

    # === RETAINER CREDITS === #

    def _retainer_target_qty(self):
        """Return ``(qty, invoices, reason)`` for this retainer line: the
        quantity, in the line's unit, that should be credited now under the
        order's credit trigger; the posted invoices that justify it; and why
        a smaller quantity would be taken back.

        - ``confirm``: the ordered quantity (or more if more was invoiced),
          less what posted credit notes refunded;
        - ``posted``: invoiced quantity of posted invoices less posted credit
          notes (like ``qty_invoiced_posted``);
        - ``paid``: quantity of posted invoices paid in full (``paid`` or
          ``in_payment``) less posted credit notes of those invoices (or of
          no invoice). A partly paid invoice credits nothing yet.

        Invoice lines in another unit of measure are converted by the
        retainer's day (``_retainer_qty_in_line_uom``). A credit note takes
        back by amount, not by quantity (``_retainer_refunded_qty``): a
        credit note of 20 % of one day's price takes back 20 % of its units.
        The sold and refunded units are each rounded half up, so the
        quantity returned is worth exactly the whole units to credit through
        ``_retainer_qty_to_units``.

        Nothing is credited unless the order is confirmed, nor while its
        online payment is only authorized (``_retainer_payment_on_hold``):
        the units follow money captured.
        """
        self.ensure_one()
        order = self.order_id
        if order.state != "sale":
            reason = (
                self.env._("Order %(order)s cancelled", order=order.name)
                if order.state == "cancel"
                else self.env._("Order %(order)s not confirmed", order=order.name)
            )
            return 0.0, self.env["account.move"], reason
        if order._retainer_payment_on_hold():
            return (
                0.0,
                self.env["account.move"],
                self.env._(
                    "Payment of order %(order)s authorized, not captured",
                    order=order.name,
                ),
            )
        trigger = (
            order.retainer_credit_trigger or order.company_id.retainer_credit_trigger
        )
        invoiced = paid = 0.0
        paid_invoices = posted_invoices = self.env["account.move"]
        posted_lines = self.invoice_lines.filtered(
            lambda line: line.move_id.state == "posted"
        )
        refunds = []
        for inv_line in posted_lines:
            move = inv_line.move_id
            if move.move_type == "out_refund":
                refunds.append(
                    (move, self._retainer_refunded_qty(inv_line, posted_lines))
                )
                continue
            qty = self._retainer_qty_in_line_uom(
                inv_line.quantity, inv_line.product_uom_id
            )
            invoiced += qty
            posted_invoices |= move
            if move.payment_state in PAID_STATES:
                paid += qty
                paid_invoices |= move
        refunded = sum(qty for _move, qty in refunds)
        if trigger == "confirm":
            sold = max(self.product_uom_qty, invoiced)
            invoices = self.env["account.move"]
        elif trigger == "posted":
            sold = invoiced
            invoices = posted_invoices
        else:
            sold = paid
            refunded = sum(
                qty
                for move, qty in refunds
                if not move.reversed_entry_id or move.reversed_entry_id in paid_invoices
            )
            invoices = paid_invoices
        if refunds:
            reason = self.env._("Credit note on order %(order)s", order=order.name)
        elif trigger == "confirm":
            reason = self.env._("Order %(order)s changed", order=order.name)
        elif trigger == "posted":
            reason = self.env._(
                "Invoice of order %(order)s no longer posted", order=order.name
            )
        else:
            reason = self.env._(
                "Invoice of order %(order)s no longer paid", order=order.name
            )
        units = max(
            self._retainer_qty_to_units(sold) - self._retainer_qty_to_units(refunded), 0
        )
        per_qty = self._retainer_units_per_qty()
        return (units / per_qty if per_qty else 0.0), invoices, reason

    def _retainer_refunded_qty(self, refund_line, posted_lines):
        """Quantity (in this line's unit) that the credit note line
        ``refund_line`` takes back: its amount over the price of one
        quantity as invoiced (the credit note's own invoice if it reverses
        one, else all posted invoices of this line, in its currency; the
        order's price when none is comparable). A free line takes back its
        quantity.

        :param refund_line: posted ``account.move.line`` of a credit note.
        :param posted_lines: posted invoice and credit note lines of this
            order line.
        """
        self.ensure_one()
        refund = refund_line.move_id
        qty = self._retainer_qty_in_line_uom(
            refund_line.quantity, refund_line.product_uom_id
        )
        invoiced = posted_lines.filtered(
            lambda line: (
                line.move_id.move_type == "out_invoice"
                and line.currency_id == refund_line.currency_id
            )
        )
        basis = (
            invoiced.filtered(lambda line: line.move_id == refund.reversed_entry_id)
            or invoiced
        )
        basis_qty = sum(
            self._retainer_qty_in_line_uom(line.quantity, line.product_uom_id)
            for line in basis
        )
        basis_amount = sum(basis.mapped("price_subtotal"))
        if basis_qty > 0 and basis_amount > 0:
            price = basis_amount / basis_qty
        else:
            price = self.order_id.currency_id._convert(
                self.price_reduce_taxexcl,
                refund_line.currency_id,
                self.company_id,
                refund.invoice_date or fields.Date.context_today(self),
            )
        if refund_line.currency_id.compare_amounts(price, 0.0) <= 0:
            return qty
        return refund_line.price_subtotal / price

    # === RETAINER UNITS OF MEASURE === #

    def _retainer_day_hours(self):
        """Hours in a day of the order's retainer (the company's default
        until the order has one)."""
        self.ensure_one()
        return self.order_id.retainer_id.day_hours or self.company_id.retainer_day_hours

    def _retainer_uom_size(self, uom):
        """Size of one ``uom`` for this line's product (see
        ``tools/units.py``): its hours on the order's retainer (a Day is the
        retainer's day, not Odoo's 8-hour Day) or its number of Units.

        :raises ValidationError: ``uom`` measures neither time nor packs, or
            not what the product's unit of measure measures.
        """
        self.ensure_one()
        product = self.product_id
        product_uom = self._retainer_product_uom()
        if uom.category_id != product_uom.category_id:
            raise ValidationError(
                self.env._(
                    "%(product)s cannot be sold in %(uom)s: its unit of measure "
                    "is %(product_uom)s, of another category.",
                    product=product.display_name,
                    uom=uom.name,
                    product_uom=product_uom.name,
                )
            )
        return uom._retainer_size(self._retainer_day_hours(), product)

    def _retainer_product_uom(self):
        """The product's unit of measure as sold (its retainer units are per
        one of it), even if the product was changed since."""
        self.ensure_one()
        return self.retainer_product_uom_id or self.product_id.uom_id

    def _retainer_units_per_qty(self):
        """Units (a float, not rounded) that one quantity of this line's unit
        of measure credits."""
        self.ensure_one()
        return units_per_quantity(
            self.retainer_product_units,
            uom_size=self._retainer_uom_size(self.product_uom),
            product_uom_size=self._retainer_uom_size(self._retainer_product_uom()),
        )

    def _retainer_qty_in_line_uom(self, qty, uom):
        """``qty`` of ``uom`` (e.g. of an invoice line) in this line's unit
        of measure, converted by the retainer's day."""
        self.ensure_one()
        if uom == self.product_uom:
            return qty
        return (
            qty
            * self._retainer_uom_size(uom)
            / self._retainer_uom_size(self.product_uom)
        )

    def _retainer_qty_to_units(self, qty):
        """Whole units for ``qty`` (in the line's unit): the product's units
        per its own unit of measure, both units measured on the retainer
        (``_retainer_uom_size``), rounded half up
        (``tools.units.quantity_to_units``)."""
        self.ensure_one()
        return quantity_to_units(
            qty,
            self.retainer_product_units,
            uom_size=self._retainer_uom_size(self.product_uom),
            product_uom_size=self._retainer_uom_size(self._retainer_product_uom()),
        )

    def _retainer_sync_credits(self, assign=False):
        """Make the live credits of each line equal what it should credit now.

        Idempotent: compares, per order line, the units that should be
        credited (``_retainer_target_qty``) with those credited (live credits
        of the line on the order's retainer) and posts only the difference:
        a new credit, or exact reversals of its credits (those whose invoice
        no longer counts first, then the newest) plus a credit for any
        remainder. Confirming, posting, paying, re-posting or running the
        sync twice therefore never credits twice. Runs a constant number of
        queries for the batch.

        Triggered by (every path that can change what a line credits):

        - ``sale.order._action_confirm``, ``_action_cancel`` and ``write``
          of ``retainer_id`` (an order moved to another retainer);
        - ``sale.order.line.create`` on a confirmed order and ``write`` of
          the product, quantity or unit;
        - ``account.move._post``, ``button_draft``, ``button_cancel``,
          ``_invoice_paid_hook`` and ``write`` of ``matched_payment_ids``
          (through ``account.move._retainer_sync_credits``, which also syncs
          overdraft invoices);
        - ``account.payment.write`` of ``state`` (payments without journal
          entry) and ``account.partial.reconcile.unlink`` (unreconciled);
        - the daily job ``_cron_retainer_sync_credits``, for any path that
          bypasses these hooks.

        :param bool assign: first give the orders their retainer (lines
            added to a confirmed order).
        """
        Ledger = self.env["retainer.ledger.entry"]
        if not self:
            return
        if assign:
            self.order_id._retainer_assign_contracts()
        live = Ledger.search(
            [
                ("sale_line_id", "in", self.ids),
                ("kind", "=", "credit"),
                ("reversal_entry_ids", "=", False),
            ],
            order="id",
        )
        live_by_line = defaultdict(lambda: Ledger)
        for credit in live:
            live_by_line[credit.sale_line_id.id] |= credit
        lines = self.filtered("retainer_product_units") | live.sale_line_id
        reversals = Ledger
        reasons = {}
        new_vals = []
        for line in lines:
            contract = line.order_id.retainer_id
            line_credits = live_by_line[line.id]
            if line.retainer_product_units and contract:
                qty, invoices, reason = line._retainer_target_qty()
                target = line._retainer_qty_to_units(qty)
            else:
                invoices = self.env["account.move"]
                target = 0
                reason = self.env._(
                    "Order line %(line)s no longer tops up this retainer",
                    line=line.display_name,
                )
            # Credits on another retainer (the order was moved) all go back;
            # then credits of invoices that no longer count go first.
            to_reverse, vals = Ledger._reconcile_plan(
                line_credits,
                target,
                lambda units, line=line, invoices=invoices, kept=line_credits: (
                    line._retainer_prepare_credit_vals(units, invoices, kept)
                ),
                stale=lambda credit, contract=contract: credit.contract_id != contract,
                first=lambda credit, invoices=invoices: (
                    credit.invoice_id not in invoices
                ),
            )
            # What is credited again in place of reversed credits (a partial
            # credit note) is the same block: it keeps its date and expiry.
            replaced = to_reverse.filtered(
                lambda credit, contract=contract: credit.contract_id == contract
            ).sorted("id")[-1:]
            for credit_vals in vals if replaced else ():
                credit_vals.update(date=replaced.date, expiry_date=replaced.expiry_date)
            reversals |= to_reverse
            reasons.update(dict.fromkeys(to_reverse.ids, reason))
            new_vals += vals
        # One posting for the whole change. A credit taken back is never
        # refused by the overdraft policy.
        Ledger._post(
            new_vals, reverse=reversals, reason=reasons, apply_overdraft_policy=False
        )

    def _retainer_prepare_credit_vals(self, units, invoices, kept):
        """Values of a credit of ``units`` for this line: its source is the
        newest of ``invoices`` not yet behind a live credit (or none for a
        credit on confirmation)."""
        self.ensure_one()
        free = invoices - kept.invoice_id
        invoice = (free or invoices).sorted("id")[-1:]
        today = fields.Date.context_today(self)
        months = self.product_id.retainer_validity_months
        return {
            "contract_id": self.order_id.retainer_id.id,
            "kind": "credit",
            "units": units,
            "sale_line_id": self.id,
            "invoice_id": invoice.id,
            "topup_origin": self.order_id.retainer_topup_origin or "sale",
            "name": f"{self.order_id.name}: {self.product_id.name}",
            "date": today,
            "expiry_date": today + relativedelta(months=months) if months else False,
        }

    @api.model
    def _cron_retainer_sync_credits(self, days=90, batch_size=1000):
        """Scheduled job: resync the credits of retainer lines whose order or
        invoices changed recently, or whose invoices are recent (payments
        usually arrive within weeks), so that a payment path that bypasses
        the hooks (or a failed hook) still converges. Idempotent."""
        since = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        lines = self.search(
            [
                ("retainer_product_units", ">", 0),
                ("order_id.retainer_id", "!=", False),
                "|",
                "|",
                ("order_id.write_date", ">=", since),
                ("invoice_lines.move_id.write_date", ">=", since),
                ("invoice_lines.move_id.invoice_date", ">=", since.date()),
            ],
            order="id",
        )
        for batch in split_every(batch_size, lines.ids, self.browse):
            batch._retainer_sync_credits()
