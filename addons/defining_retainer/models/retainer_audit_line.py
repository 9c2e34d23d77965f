from odoo import fields, models


class RetainerAuditLine(models.Model):
    _name = "retainer.audit.line"
    _description = "Retainer Audit Item"
    _order = "contract_id, supported, id"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "retainer.contract", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    name = fields.Char(string="Asset or technology", required=True)
    category = fields.Selection(
        [
            ("hardware", "Hardware"),
            ("software", "Software"),
            ("network", "Network"),
            ("service", "Cloud service"),
            ("other", "Other"),
        ],
        default="other",
    )
    supported = fields.Boolean(default=True)
    note = fields.Text()
