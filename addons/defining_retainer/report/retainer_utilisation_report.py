from odoo import fields, models, tools
from odoo.tools import SQL


class RetainerUtilisationReport(models.Model):
    """How much of each consultant's logged time is billed on retainers:
    one row per timesheet (any project) with the hours logged and the units
    its retainer debits count for now (debits net of their reversals), so
    that grouped by consultant and month it gives units delivered against
    total hours. ``utilisation`` of a group is its billed hours over its
    logged hours, not an average of rows (see ``_read_group_select``).

    A view over the timesheets and the ledger's debits, never behind them.
    """

    _name = "retainer.utilisation.report"
    _description = "Retainer Utilisation Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "employee_id"

    date = fields.Date(readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Consultant", readonly=True)
    user_id = fields.Many2one("res.users", readonly=True)
    department_id = fields.Many2one("hr.department", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    contract_id = fields.Many2one("retainer.contract", string="Retainer", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    logged_hours = fields.Float(
        string="Hours logged",
        readonly=True,
        aggregator="sum",
        help="All the time logged, on retainers or not.",
    )
    retainer_logged_hours = fields.Float(
        string="Hours logged on retainers", readonly=True, aggregator="sum"
    )
    units = fields.Integer(string="Units delivered", readonly=True, aggregator="sum")
    billed_hours = fields.Float(
        string="Hours billed",
        readonly=True,
        aggregator="sum",
        help="The units delivered, in hours.",
    )
    utilisation = fields.Float(
        string="Billed / logged (%)",
        readonly=True,
        aggregator="avg",
        help="Hours billed on retainers per 100 hours logged.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE OR REPLACE VIEW %s AS (
                    SELECT l.id AS id,
                           l.date AS date,
                           l.employee_id AS employee_id,
                           l.user_id AS user_id,
                           l.department_id AS department_id,
                           l.company_id AS company_id,
                           l.project_id AS project_id,
                           l.retainer_id AS contract_id,
                           c.partner_id AS partner_id,
                           l.unit_amount AS logged_hours,
                           CASE WHEN l.retainer_id IS NOT NULL
                                THEN l.unit_amount ELSE 0 END
                               AS retainer_logged_hours,
                           COALESCE(d.units, 0)::int AS units,
                           COALESCE(d.hours, 0) AS billed_hours,
                           CASE WHEN l.unit_amount > 0
                                THEN 100 * COALESCE(d.hours, 0) / l.unit_amount
                                ELSE 0 END AS utilisation
                      FROM account_analytic_line l
                 LEFT JOIN retainer_contract c ON c.id = l.retainer_id
                 LEFT JOIN (
                           SELECT timesheet_id,
                                  -SUM(units) AS units,
                                  SUM(billed_hours) AS hours
                             FROM retainer_ledger_entry
                            WHERE timesheet_id IS NOT NULL
                              AND effective_kind = 'debit'
                         GROUP BY timesheet_id
                           ) d ON d.timesheet_id = l.id
                     WHERE l.project_id IS NOT NULL
                )
                """,
                SQL.identifier(self._table),
            )
        )

    def _read_group_select(self, aggregate_spec, query):
        # A group's utilisation is its billed hours over its logged hours,
        # not the average of its rows' ratios.
        if aggregate_spec != "utilisation:avg":
            return super()._read_group_select(aggregate_spec, query)
        return SQL(
            "COALESCE(100 * SUM(%(billed)s) / NULLIF(SUM(%(logged)s), 0), 0)",
            billed=self._field_to_sql(self._table, "billed_hours", query),
            logged=self._field_to_sql(self._table, "logged_hours", query),
        )
