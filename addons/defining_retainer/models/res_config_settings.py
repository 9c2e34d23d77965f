from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retainer_rounding_method = fields.Selection(
        related="company_id.retainer_rounding_method", readonly=False
    )
    retainer_rounding_unit_minutes = fields.Integer(
        related="company_id.retainer_rounding_unit_minutes", readonly=False
    )
    retainer_rounding_grace_minutes = fields.Integer(
        related="company_id.retainer_rounding_grace_minutes", readonly=False
    )
    retainer_rounding_min_units = fields.Integer(
        related="company_id.retainer_rounding_min_units", readonly=False
    )
    retainer_day_hours = fields.Float(
        related="company_id.retainer_day_hours", readonly=False
    )
    retainer_overdraft_policy = fields.Selection(
        related="company_id.retainer_overdraft_policy", readonly=False
    )
    retainer_audit_required = fields.Boolean(
        related="company_id.retainer_audit_required", readonly=False
    )
