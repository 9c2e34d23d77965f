from odoo import api, models


class IrQwebFieldRetainerDuration(models.AbstractModel):
    """``t-options="{'widget': 'retainer_duration'}"``: a duration in hours
    written for people (``22 h 45 min``), in the portal, the PDF and the
    emails. The backend's ``retainer_duration`` field widget writes the
    same text.

    Option ``day_hours`` (the retainer's day): days follow the hours from
    one day on, whole or to one decimal (``14 h (2 days)``); the page says
    the length of a day once, elsewhere."""

    _name = "ir.qweb.field.retainer_duration"
    _description = "QWeb Field Retainer Duration"
    _inherit = "ir.qweb.field"

    @api.model
    def value_to_html(self, value, options):
        return self.env["retainer.contract"]._format_duration(
            value or 0.0, day_hours=options.get("day_hours")
        )
