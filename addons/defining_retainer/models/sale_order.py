from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools.server_values import server_values
from .res_company import CREDIT_TRIGGER_SELECTION, ORDER_TOPUP_ORIGIN_SELECTION


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "retainer.server.values.mixin"]

    # When the units become usable, where the top-up came from and whether it
    # is charged off session (retainer_auto_topup_state, declared in
    # sale_order_auto_topup.py): set by the server only.
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
        self._retainer_assign_contracts()
        result = super()._action_confirm()
        self.order_line._retainer_sync_credits()
        return result

    def _action_cancel(self):
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
