from collections import defaultdict

from odoo import fields, models


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
        if sale_lines:
            for pool in RevenueLine._retainer_pools(sale_lines=sale_lines).values():
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
        "manual credit has none.",
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
        for entry in self.sorted("id"):
            block = entry
            seen = set()
            while block.block_entry_id and not block.sale_line_id and block not in seen:
                seen.add(block)
                block = block.block_entry_id
            origin[entry] = block.sale_line_id
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
            entry.value_pending = bool(
                entry.is_block
                and sale_line
                and entry.company_id.retainer_defer_revenue
                and not (pool and pool.paid_units)
            )
