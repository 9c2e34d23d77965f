from odoo import fields, models

from ..tools import forecast as forecast_tools

FORECAST_STATUS_SELECTION = [
    (forecast_tools.STATUS_OVERDRAWN, "Overdrawn"),
    (forecast_tools.STATUS_EXHAUSTED, "Used up"),
    (forecast_tools.STATUS_FORECAST, "Forecast"),
    (forecast_tools.STATUS_BEYOND, "Beyond 5 years"),
    (forecast_tools.STATUS_NO_USAGE, "No recent usage"),
]


# One model, one file per concern (see retainer_contract_alert.py).
class RetainerContract(models.Model):
    """What staff read on a retainer besides its ledger: its forecast, its
    balance over time and the analysis of its usage."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    forecast_status = fields.Selection(
        FORECAST_STATUS_SELECTION, compute="_compute_forecast"
    )
    forecast_date = fields.Date(
        string="Runs out on",
        compute="_compute_forecast",
        help="When the balance runs out at the average net use of the last 90 days.",
    )

    # === COMPUTE METHODS === #

    def _compute_forecast(self):
        forecasts = self._origin._retainer_forecasts() if self._origin else {}
        for contract in self:
            forecast = forecasts.get(contract._origin.id)
            contract.forecast_status = forecast.status if forecast else False
            contract.forecast_date = forecast.depletion_date if forecast else False

    # === ACTION METHODS === #

    def action_view_balance_graph(self):
        """The balance of this retainer over time: its units cumulated."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_ledger_entry_action_balance"
        )
        action.update(
            domain=[("contract_id", "=", self.id)],
            context={"default_contract_id": self.id},
            display_name=self.env._("Balance of %(name)s", name=self.name),
        )
        return action

    def action_view_usage(self):
        """The usage of this retainer by month and consultant."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_usage_report_action"
        )
        action.update(
            domain=[("contract_id", "=", self.id)],
            context={"search_default_groupby_employee": 1},
            display_name=self.env._("Usage of %(name)s", name=self.name),
        )
        return action
