from odoo import api, fields, models
from odoo.exceptions import ValidationError

# What an audited asset is, and what the catalogue groups technologies by.
ASSET_CATEGORY_SELECTION = [
    ("hardware", "Hardware"),
    ("software", "Software"),
    ("network", "Network"),
    ("service", "Cloud service"),
    ("other", "Other"),
]

# How far the firm supports a technology; the order is the order of
# concern (mismatches first on the portal and the audit report).
SUPPORT_STATUS_SELECTION = [
    ("not_supported", "Not supported"),
    ("limited", "Limited"),
    ("supported", "Supported"),
]


class RetainerTechnology(models.Model):
    """What the firm supports, kept once for every customer: an audited
    asset takes its support status from here, so the same mismatch is
    judged the same way from one customer to the next."""

    _name = "retainer.technology"
    _description = "Supported Technology"
    _order = "category, name, id"

    name = fields.Char(required=True, translate=True)
    category = fields.Selection(
        ASSET_CATEGORY_SELECTION, required=True, default="other"
    )
    vendor = fields.Char()
    support_status = fields.Selection(
        SUPPORT_STATUS_SELECTION,
        required=True,
        default="supported",
        help="Supported: covered by the retainer. Limited: covered on a "
        "best-effort basis. Not supported: outside the firm's expertise; the "
        "customer is told in the audit.",
    )
    customer_note = fields.Text(
        translate=True,
        help="Shown to the customer next to every audited asset of this "
        "technology (on the portal and the audit report), e.g. a specialist "
        "the firm recommends.",
    )
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to share the technology with every company.",
    )
    active = fields.Boolean(default=True)

    @api.model
    def _retainer_check_known(self, technology_ids):
        """Raise unless every id of ``technology_ids`` is a technology of the
        catalogue the user may read (archived ones included: an asset keeps
        its technology when the firm stops listing it)."""
        wanted = {tid for tid in technology_ids if tid}
        if not wanted:
            return
        found = set(
            self.with_context(active_test=False)
            .search([("id", "in", list(wanted))])
            .ids
        )
        unknown = sorted(wanted - found)
        if unknown:
            raise ValidationError(
                self.env._(
                    "Unknown technology (id %(ids)s): pick one from the catalogue "
                    "of supported technologies, or ask a retainer manager to add "
                    "it.",
                    ids=", ".join(map(str, unknown)),
                )
            )
