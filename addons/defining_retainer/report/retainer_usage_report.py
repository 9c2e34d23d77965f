from odoo import fields, models, tools
from odoo.tools import SQL

from ..models.retainer_ledger_entry import CONTACT_TYPE_SELECTION
from ..models.retainer_technology import ASSET_CATEGORY_SELECTION


class RetainerUsageReport(models.Model):
    """Usage of retainers, one row per usage entry of the ledger (debits
    and their reversals, so that a corrected timesheet counts once), with
    the customer, account manager and level of its retainer and the user
    of its consultant: what the pivot and graph views group by. Units and
    hours are positive for usage and negative for its corrections.

    A view over the ledger, so it is never behind it; it reads the
    ledger's indexed ``effective_kind`` and ``date`` columns.
    """

    _name = "retainer.usage.report"
    _description = "Retainer Usage Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "contract_id"

    date = fields.Date(readonly=True)
    contract_id = fields.Many2one("retainer.contract", string="Retainer", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    manager_id = fields.Many2one("res.users", string="Account Manager", readonly=True)
    level_id = fields.Many2one("retainer.level", readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Consultant", readonly=True)
    user_id = fields.Many2one("res.users", string="Consultant's user", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    contact_type = fields.Selection(
        CONTACT_TYPE_SELECTION, string="Contact type", readonly=True
    )
    kind = fields.Selection(
        [("debit", "Usage"), ("reversal", "Correction")], readonly=True
    )
    units = fields.Integer(string="Units used", readonly=True, aggregator="sum")
    hours = fields.Float(string="Billed hours", readonly=True, aggregator="sum")
    entered_hours = fields.Float(readonly=True, aggregator="sum")
    # The audited asset the work was about (its task's, see retainer_audit.py).
    asset_id = fields.Many2one(
        "retainer.audit.line", string="Audited asset", readonly=True
    )
    asset_category = fields.Selection(
        ASSET_CATEGORY_SELECTION, string="Asset category", readonly=True
    )
    # The incident of the usage (see account.analytic.line
    # ._retainer_incident_refs) and a name for people: its task's, else the
    # entry's description, else the reference itself.
    incident_ref = fields.Char(readonly=True)
    incident = fields.Char(readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (SELECT %s FROM %s WHERE %s)",
                SQL.identifier(self._table),
                self._select(),
                self._from(),
                SQL("e.effective_kind = 'debit'"),
            )
        )

    # === HOOKS === #

    def _select(self):
        """The columns of the view (``e``: the ledger entry, ``c``: its
        retainer, ``emp``: its consultant, ``aal``: its timesheet, ``t``:
        that timesheet's task, ``it``: the task that is its incident).
        Extend it (with ``super()``) with the columns of an extension's
        fields."""
        return SQL(
            """
            e.id AS id,
            e.date AS date,
            e.contract_id AS contract_id,
            c.partner_id AS partner_id,
            c.company_id AS company_id,
            c.user_id AS manager_id,
            c.level_id AS level_id,
            e.employee_id AS employee_id,
            emp.user_id AS user_id,
            e.project_id AS project_id,
            e.contact_type AS contact_type,
            e.kind AS kind,
            -e.units AS units,
            e.billed_hours AS hours,
            e.entered_hours AS entered_hours,
            t.retainer_asset_id AS asset_id,
            t.retainer_asset_category AS asset_category,
            e.incident_ref AS incident_ref,
            CASE
                WHEN it.id IS NOT NULL THEN it.name
                WHEN split_part(e.incident_ref, ',', 1) = 'account.analytic.line'
                    THEN e.name
                ELSE e.incident_ref
            END AS incident
            """
        )

    def _from(self):
        """The tables of the view. Extend it (with ``super()``) with the
        joins an extension's columns need."""
        return SQL(
            """
            retainer_ledger_entry e
            JOIN retainer_contract c ON c.id = e.contract_id
            LEFT JOIN hr_employee emp ON emp.id = e.employee_id
            LEFT JOIN account_analytic_line aal ON aal.id = e.timesheet_id
            LEFT JOIN project_task t ON t.id = aal.task_id
            LEFT JOIN project_task it
                   ON split_part(e.incident_ref, ',', 1) = 'project.task'
                  AND it.id = split_part(e.incident_ref, ',', 2)::int
            """
        )
