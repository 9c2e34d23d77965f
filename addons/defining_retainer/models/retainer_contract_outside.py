from odoo import Command, fields, models
from odoo.exceptions import UserError


# One model, one file per concern (core, posting, blocks, sales...) to keep
# each file short.
class RetainerContract(models.Model):
    """Time billed outside the retainer: a contact type its level does not
    include, in a company that bills such time (``retainer_outside_level``).
    It uses no units. A project sold by the hour bills it through its order
    line like any other time; otherwise it is invoiced here, in hours of the
    overage product at the customer's price."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    outside_hours_to_invoice = fields.Float(
        string="Time outside the level to invoice",
        compute="_compute_outside_hours_to_invoice",
        groups="account.group_account_invoice",
        help="Hours billed outside the retainer that no order line bills and "
        "that are not invoiced yet.",
    )

    # === COMPUTE METHODS === #

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

    # === ACTION METHODS === #

    def action_invoice_outside_level(self):
        self.ensure_one()
        invoice = self._retainer_invoice_outside_level()
        return invoice._get_records_action(
            name=self.env._("Invoice of work outside the level")
        )

    # === BUSINESS METHODS === #

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
