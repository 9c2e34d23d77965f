from odoo import fields, models

ROUNDING_METHOD_SELECTION = [
    ("grace", "Grace (drop a short remainder)"),
    ("up", "Always round up"),
    ("down", "Always round down"),
    ("nearest", "Nearest (half up)"),
]
OVERDRAFT_POLICY_SELECTION = [
    ("allow", "Allow"),
    ("warn", "Allow and warn"),
    ("block", "Block"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    retainer_rounding_method = fields.Selection(
        ROUNDING_METHOD_SELECTION, default="grace", required=True
    )
    retainer_rounding_unit_minutes = fields.Integer(default=15, required=True)
    retainer_rounding_grace_minutes = fields.Integer(default=5, required=True)
    retainer_rounding_min_units = fields.Integer(default=1, required=True)
    retainer_day_hours = fields.Float(default=7.0, required=True)
    retainer_overdraft_policy = fields.Selection(
        OVERDRAFT_POLICY_SELECTION, default="warn", required=True
    )
    retainer_audit_required = fields.Boolean(
        help="New retainers start with an audit and health-check of the "
        "customer's IT estate, unless their level says otherwise."
    )
