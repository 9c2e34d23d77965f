from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import float_round, split_every

PAID_STATES = ("paid", "in_payment")


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    # Snapshot of the product's units, so that editing the product later
    # never re-prices an order already sold.
    retainer_product_units = fields.Integer(
        string="Retainer units per unit",
        compute="_compute_retainer_product_units",
        store=True,
        precompute=True,
    )
    retainer_credited_units = fields.Integer(
        compute="_compute_retainer_credited_units",
        help="Units this line has credited to the retainer so far.",
    )

    @api.depends("product_id")
    def _compute_retainer_product_units(self):
        for line in self:
            line.retainer_product_units = line.product_id.retainer_units

    def _compute_retainer_credited_units(self):
        groups = self.env["retainer.ledger.entry"]._read_group(
            [("sale_line_id", "in", self._origin.ids)], ["sale_line_id"], ["units:sum"]
        )
        credited = {line.id: units for line, units in groups}
        for line in self:
            line.retainer_credited_units = credited.get(line._origin.id, 0)

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
        # counts as delivered on an order line too.
        return expression.AND(
            [
                super()._timesheet_compute_delivered_quantity_domain(),
                [("retainer_id", "=", False)],
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

        Nothing is credited unless the order is confirmed.
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
        trigger = (
            order.retainer_credit_trigger or order.company_id.retainer_credit_trigger
        )
        invoiced = paid = 0.0
        paid_invoices = posted_invoices = self.env["account.move"]
        refunds = []
        for inv_line in self.invoice_lines:
            move = inv_line.move_id
            if move.state != "posted":
                continue
            qty = inv_line.product_uom_id._compute_quantity(
                inv_line.quantity, self.product_uom, round=False
            )
            if move.move_type == "out_refund":
                refunds.append((move, qty))
                continue
            invoiced += qty
            posted_invoices |= move
            if move.payment_state in PAID_STATES:
                paid += qty
                paid_invoices |= move
        refunded = sum(qty for _move, qty in refunds)
        if trigger == "confirm":
            target = max(self.product_uom_qty, invoiced) - refunded
            invoices = self.env["account.move"]
        elif trigger == "posted":
            target = invoiced - refunded
            invoices = posted_invoices
        else:
            target = paid - sum(
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
        return max(target, 0.0), invoices, reason

    def _retainer_qty_to_units(self, qty):
        """Units for ``qty`` (in the line's unit): converted to the product's
        unit, times the product's units, rounded half up to an integer."""
        self.ensure_one()
        product_qty = self.product_uom._compute_quantity(
            qty, self.product_id.uom_id, round=False
        )
        return int(
            float_round(
                product_qty * self.retainer_product_units,
                precision_digits=0,
                rounding_method="HALF-UP",
            )
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
        reversals = defaultdict(lambda: Ledger)
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
            to_reverse, vals = Ledger._retainer_reconcile(
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
            reversals[reason] |= to_reverse
            new_vals += vals
        # A credit taken back is never refused by the overdraft policy.
        for reason, entries in reversals.items():
            entries._reverse(reason=reason, apply_overdraft_policy=False)
        Ledger._post(new_vals, apply_overdraft_policy=False)

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
