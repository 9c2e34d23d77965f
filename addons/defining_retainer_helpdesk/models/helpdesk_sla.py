from odoo import fields, models


class HelpdeskSla(models.Model):
    _inherit = "helpdesk.sla"

    retainer_level_ids = fields.Many2many(
        "retainer.level",
        "retainer_level_helpdesk_sla_rel",
        "sla_id",
        "level_id",
        string="Support levels",
        help="An SLA of support levels applies to the tickets of their "
        "retainers only, not to the team's other tickets.",
    )
