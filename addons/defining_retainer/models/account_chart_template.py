from odoo import models


class AccountChartTemplate(models.AbstractModel):
    _inherit = "account.chart.template"

    def _post_load_data(self, template_code, company, template_data):
        result = super()._post_load_data(template_code, company, template_data)
        # A company with a chart of accounts gets a deferred retainer
        # revenue account (deferral itself stays off until turned on).
        (company or self.env.company)._retainer_setup_revenue_accounts()
        return result
