from odoo import fields, models

from odoo.addons.defining_retainer.models.retainer_ledger_entry import (
    CONTACT_TYPE_SELECTION,
)


class HelpdeskTicketChannel(models.Model):
    _inherit = "helpdesk.ticket.channel"

    retainer_contact_type = fields.Selection(
        CONTACT_TYPE_SELECTION,
        string="Contact type",
        help="How the work of a ticket that comes through this channel is "
        "delivered: the ticket, and its new timesheets, take this contact type "
        "when the retainer's level includes it.",
    )
