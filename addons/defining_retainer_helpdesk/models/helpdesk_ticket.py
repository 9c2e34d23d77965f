from odoo import fields, models


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    retainer_id = fields.Many2one(
        "retainer.contract", index="btree_not_null", tracking=True
    )
