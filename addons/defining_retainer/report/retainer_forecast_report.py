from odoo import fields, models, tools
from odoo.tools import SQL

from ..models.retainer_contract import FORECAST_STATUS_SELECTION
from ..tools import forecast as forecast_tools


class RetainerForecastReport(models.Model):
    """When each retainer runs out at its recent rate of use: one row per
    retainer with its balance, its net usage of the last
    ``forecast.WINDOW_DAYS`` days and the forecast
    ``forecast.forecast_depletion`` makes of them (the alerts and the portal
    use the same function), so that the retainers running out can be
    filtered, sorted and grouped by their forecast date.

    A view, computed when read, so it is never stale: no job stores a
    forecast that the next timesheet or the next day would change. The
    arithmetic below is ``forecast_depletion``'s, in SQL, with today's date
    in UTC (``fields.Date.today()``); a test compares both.
    """

    _name = "retainer.forecast.report"
    _description = "Retainer Balance Forecast"
    _auto = False
    _order = "depletion_date, balance_units, id"
    _rec_name = "contract_id"

    contract_id = fields.Many2one("retainer.contract", string="Retainer", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    user_id = fields.Many2one("res.users", string="Account Manager", readonly=True)
    level_id = fields.Many2one("retainer.level", readonly=True)
    state = fields.Selection(
        selection=lambda self: (
            self.env["retainer.contract"]
            ._fields["state"]
            ._description_selection(self.env)
        ),
        readonly=True,
    )
    balance_units = fields.Integer(string="Balance", readonly=True, aggregator="sum")
    balance_hours = fields.Float(readonly=True, aggregator="sum")
    window_units = fields.Integer(
        string="Recent usage",
        readonly=True,
        aggregator="sum",
        help="Net units used in the last 90 days.",
    )
    daily_units = fields.Float(
        string="Units a day",
        readonly=True,
        aggregator="sum",
        help="Average net use a day over the last 90 days.",
    )
    status = fields.Selection(FORECAST_STATUS_SELECTION, readonly=True)
    days_left = fields.Integer(readonly=True, aggregator="min")
    depletion_date = fields.Date(string="Runs out on", readonly=True)

    def init(self):
        window = forecast_tools.WINDOW_DAYS
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE OR REPLACE VIEW %(table)s AS (
                    WITH today AS (
                        SELECT (now() AT TIME ZONE 'UTC')::date AS day
                    ), totals AS (
                        SELECT e.contract_id,
                               SUM(e.units) AS balance,
                               -SUM(e.units) FILTER (
                                   WHERE e.effective_kind = 'debit'
                                     AND e.date > today.day - %(window)s
                                     AND e.date <= today.day
                               ) AS used
                          FROM retainer_ledger_entry e, today
                      GROUP BY e.contract_id
                    ), figures AS (
                        SELECT c.id,
                               c.partner_id,
                               c.company_id,
                               c.user_id,
                               c.level_id,
                               c.state,
                               c.rounding_unit_minutes,
                               COALESCE(t.balance, 0)::int AS balance,
                               COALESCE(t.used, 0)::int AS used,
                               CASE WHEN COALESCE(t.used, 0) > 0
                                    AND COALESCE(t.balance, 0) > 0
                                    THEN t.balance * %(window)s / t.used
                               END AS days_left
                          FROM retainer_contract c
                     LEFT JOIN totals t ON t.contract_id = c.id
                    )
                    SELECT f.id AS id,
                           f.id AS contract_id,
                           f.partner_id,
                           f.company_id,
                           f.user_id,
                           f.level_id,
                           f.state,
                           f.balance AS balance_units,
                           f.balance * f.rounding_unit_minutes / 60.0 AS balance_hours,
                           f.used AS window_units,
                           GREATEST(f.used, 0)::float / %(window)s AS daily_units,
                           CASE WHEN f.balance < 0 THEN %(overdrawn)s
                                WHEN f.balance = 0 THEN %(exhausted)s
                                WHEN f.used <= 0 THEN %(no_usage)s
                                WHEN f.days_left > %(horizon)s THEN %(beyond)s
                                ELSE %(forecast)s
                           END AS status,
                           CASE WHEN f.days_left <= %(horizon)s
                                THEN f.days_left::int
                           END AS days_left,
                           CASE WHEN f.days_left <= %(horizon)s
                                THEN today.day + f.days_left::int
                           END AS depletion_date
                      FROM figures f, today
                )
                """,
                table=SQL.identifier(self._table),
                window=window,
                horizon=forecast_tools.HORIZON_DAYS,
                overdrawn=forecast_tools.STATUS_OVERDRAWN,
                exhausted=forecast_tools.STATUS_EXHAUSTED,
                no_usage=forecast_tools.STATUS_NO_USAGE,
                beyond=forecast_tools.STATUS_BEYOND,
                forecast=forecast_tools.STATUS_FORECAST,
            )
        )

    def action_open_retainer(self):
        """Open the retainer of the row."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "retainer.contract",
            "res_id": self.contract_id.id,
            "views": [(False, "form")],
        }
