from odoo import api, fields, models

from ..tools.statement import normalise_period, parse_date

# Context key through which the portal passes the period: its report route
# (``CustomerPortal._show_report``) only forwards ``report_type`` as data.
PERIOD_CONTEXT_KEY = "retainer_statement_period"
STATEMENT_REPORT = "defining_retainer.action_report_retainer_statement"


class ReportRetainerStatement(models.AbstractModel):
    _name = "report.defining_retainer.report_retainer_statement"
    _description = "Retainer statement"

    @api.model
    def _get_report_values(self, docids, data=None):
        """Values of the statement of the retainers ``docids``.

        The period comes from ``data`` (``date_from`` / ``date_to`` as
        ``YYYY-MM-DD``, from the backend wizard), else from the context key
        ``retainer_statement_period`` (the portal), else the default period
        (last month and this month so far). Bad dates fall back the same way.
        """
        data = data or {}
        contracts = self.env["retainer.contract"].browse(docids)
        # Whoever prints must be allowed to read these retainers; the portal
        # and the statement job render in sudo after their own checks.
        contracts.check_access("read")
        period = self.env.context.get(PERIOD_CONTEXT_KEY) or (None, None)
        date_from = parse_date(data.get("date_from")) or parse_date(period[0])
        date_to = parse_date(data.get("date_to")) or parse_date(period[1])
        date_from, date_to = normalise_period(
            date_from, date_to, fields.Date.context_today(self)
        )
        # sudo: read access to the retainers was checked just above; the
        # statement shows only customer-facing fields of their own ledger
        # (no timesheet cost or internal reason).
        contracts_sudo = contracts.sudo()
        return {
            "doc_ids": docids,
            "doc_model": "retainer.contract",
            "docs": contracts_sudo,
            "date_from": date_from,
            "date_to": date_to,
            "statements": contracts_sudo._statement_data_by_contract(
                date_from, date_to
            ),
        }
