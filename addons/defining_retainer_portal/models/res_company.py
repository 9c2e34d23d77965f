from odoo import api, fields, models
from odoo.exceptions import ValidationError

PORTAL_TOPUP_MODE_SELECTION = [
    ("request", "Customers request a quotation"),
    ("buy", "Customers buy and pay online"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    retainer_portal_topup_mode = fields.Selection(
        PORTAL_TOPUP_MODE_SELECTION,
        string="Portal top-ups",
        default="request",
        required=True,
        help="Request: the customer's request makes a draft quotation that "
        "sales review. Buy: the customer chooses a retainer product sold on "
        "the portal and pays online; the time is credited once paid.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_portal_topup_hourly_limit = fields.Integer(
        string="Portal top-ups per hour",
        default=5,
        required=True,
        help="How many purchases or requests a retainer may make from the "
        "portal in one hour, so that the form cannot flood sales with "
        "quotations.",
        groups="base.group_user",
        prefetch="retainer",
    )

    @api.constrains("retainer_portal_topup_hourly_limit")
    def _check_retainer_portal_topup_hourly_limit(self):
        for company in self:
            if company.retainer_portal_topup_hourly_limit < 1:
                raise ValidationError(
                    self.env._(
                        "%(company)s must allow at least one portal top-up per hour.",
                        company=company.name,
                    )
                )
