from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..report.retainer_statement_report import STATEMENT_REPORT
from ..tools.statement import default_period


class RetainerStatementPrint(models.TransientModel):
    _name = "retainer.statement.print"
    _description = "Print retainer statements"

    contract_ids = fields.Many2many(
        "retainer.contract",
        string="Retainers",
        required=True,
        default=lambda self: self._default_contract_ids(),
    )
    date_from = fields.Date(
        required=True, default=lambda self: self._default_date_from()
    )
    date_to = fields.Date(required=True, default=fields.Date.context_today)

    # === DEFAULTS === #

    def _default_contract_ids(self):
        context = self.env.context
        if context.get("active_model") != "retainer.contract":
            return self.env["retainer.contract"]
        return self.env["retainer.contract"].browse(context.get("active_ids") or [])

    def _default_date_from(self):
        return default_period(fields.Date.context_today(self))[0]

    # === CONSTRAINT METHODS === #

    @api.constrains("date_from", "date_to")
    def _check_period(self):
        for wizard in self:
            if wizard.date_from > wizard.date_to:
                raise ValidationError(
                    self.env._("The statement period ends before it starts.")
                )

    # === ACTION METHODS === #

    def action_print(self):
        """Print the statement of each selected retainer for the period."""
        self.ensure_one()
        return self.env.ref(STATEMENT_REPORT).report_action(
            self.contract_ids,
            data={
                "date_from": fields.Date.to_string(self.date_from),
                "date_to": fields.Date.to_string(self.date_to),
            },
        )
