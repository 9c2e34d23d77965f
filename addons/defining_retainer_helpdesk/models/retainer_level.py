from odoo import fields, models


class RetainerLevel(models.Model):
    _inherit = "retainer.level"

    retainer_sla_ids = fields.Many2many(
        "helpdesk.sla",
        "retainer_level_helpdesk_sla_rel",
        "level_id",
        "sla_id",
        string="Service levels (SLA)",
        help="Response and resolution targets of the tickets of this level's "
        "retainers (instead of the team's SLAs): a response target expects an "
        "in-progress stage, a resolution target a done stage.",
    )
    sla_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Cover hours",
        help="The hours in which this level's deadlines run (e.g. office "
        "hours, extended hours). Empty: the team's working hours.",
    )
