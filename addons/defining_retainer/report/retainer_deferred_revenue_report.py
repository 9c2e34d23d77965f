from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL, format_date


class RetainerDeferredRevenueReport(models.TransientModel):
    """Deferred retainer revenue at a date, per customer and sold line, next
    to the balance of the deferred revenue account: what customers paid for
    time not used yet, what was earned in the period, and what is earned but
    not recognised yet (the next run's work). The difference with the books
    must be 0.00."""

    _name = "retainer.deferred.revenue.report"
    _description = "Deferred Retainer Revenue"

    date = fields.Date(
        string="At",
        required=True,
        default=lambda self: self.env[
            "retainer.revenue.line"
        ]._retainer_last_closed_day(),
    )
    date_from = fields.Date(
        string="Period from",
        required=True,
        default=lambda self: (
            self.env["retainer.revenue.line"]._retainer_last_closed_day().replace(day=1)
        ),
        help="Start of the period whose used and expired value is shown.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    line_ids = fields.One2many(
        "retainer.deferred.revenue.report.line", "report_id", readonly=True
    )
    unearned_value = fields.Monetary(compute="_compute_totals")
    unrecognized_value = fields.Monetary(
        string="Earned, not recognised yet", compute="_compute_totals"
    )
    deferred_value = fields.Monetary(
        string="Deferred (report)",
        compute="_compute_totals",
        help="Unearned value plus what is earned but not recognised yet: what "
        "the deferred revenue account should hold.",
    )
    account_balance = fields.Monetary(
        string="Deferred revenue account",
        compute="_compute_totals",
        help="Balance of the company's deferred revenue account at the date.",
    )
    difference = fields.Monetary(compute="_compute_totals")

    @api.depends("line_ids", "date", "company_id")
    def _compute_totals(self):
        for report in self:
            report.unearned_value = sum(report.line_ids.mapped("unearned_value"))
            report.unrecognized_value = sum(
                report.line_ids.mapped("unrecognized_value")
            )
            report.deferred_value = report.unearned_value + report.unrecognized_value
            report.account_balance = report._deferred_account_balance()
            report.difference = report.currency_id.round(
                report.deferred_value - report.account_balance
            )

    @api.depends("date")
    def _compute_display_name(self):
        # The breadcrumb reads "Deferred revenue at 12/31/2026", never the
        # model's technical name.
        for report in self:
            report.display_name = self.env._(
                "Deferred revenue at %(date)s",
                date=format_date(self.env, report.date) if report.date else "",
            )

    @api.model
    def action_open_computed(self):
        """The menu's entry: the report at the last closed day, computed,
        not an empty form to fill in first."""
        report = self.create({})
        return report.action_compute()

    def _deferred_account_balance(self):
        """Credit balance of the deferred revenue account at the date."""
        self.ensure_one()
        account = self.company_id.retainer_deferred_account_id
        if not account or not self.date:
            return 0.0
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT COALESCE(-SUM(balance), 0) FROM account_move_line "
                "WHERE account_id = %s AND company_id = %s AND parent_state = 'posted' "
                "AND date <= %s",
                account.id,
                self.company_id.id,
                self.date,
            )
        )
        return self.env.cr.fetchone()[0]

    def action_compute(self):
        """Fill the report's lines (the pools at the date and at the day
        before the period)."""
        self.ensure_one()
        RevenueLine = self.env["retainer.revenue.line"]
        pools = RevenueLine._retainer_pools(self.date, companies=self.company_id)
        before = RevenueLine._retainer_pools(
            self.date_from - timedelta(days=1), companies=self.company_id
        )
        self.line_ids.unlink()
        vals_list = []
        for key, pool in pools.items():
            start = before.get(key)
            used_before = start.earned.used if start else 0.0
            expired_before = start.earned.expired if start else 0.0
            vals_list.append(
                {
                    "report_id": self.id,
                    "contract_id": pool.contract_id,
                    "partner_id": pool.partner_id,
                    **pool.source_vals,
                    "paid_units": pool.paid_units,
                    "remaining_units": max(
                        pool.paid_units - pool.used_units - pool.expired_units, 0
                    ),
                    "unit_value": pool.unit_value,
                    "paid_value": pool.amount,
                    "unearned_value": pool.unearned,
                    "used_value": pool.earned.used - used_before,
                    "expired_value": pool.earned.expired - expired_before,
                    "recognized_value": pool.recognized,
                    "unrecognized_value": pool.earned.total - pool.recognized,
                }
            )
        self.env["retainer.deferred.revenue.report.line"].create(vals_list)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Deferred retainer revenue"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_open_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_deferred_revenue_report_line_action"
        )
        action["domain"] = [("report_id", "=", self.id)]
        action["display_name"] = self.env._(
            "Deferred retainer revenue at %(date)s", date=self.date
        )
        return action
