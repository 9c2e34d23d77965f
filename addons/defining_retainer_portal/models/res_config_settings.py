from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retainer_portal_topup_mode = fields.Selection(
        related="company_id.retainer_portal_topup_mode", readonly=False
    )
    retainer_portal_topup_hourly_limit = fields.Integer(
        related="company_id.retainer_portal_topup_hourly_limit", readonly=False
    )
