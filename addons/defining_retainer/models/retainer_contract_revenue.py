from collections import defaultdict

from odoo import fields, models
from odoo.exceptions import AccessError, UserError


# One model, one file per concern (core, posting, blocks, sales, revenue)
# to keep each file short.
class RetainerContract(models.Model):
    """Revenue of a retainer: what its customer paid for time not used yet,
    and what was recognised (see models/retainer_revenue_line.py)."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

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
