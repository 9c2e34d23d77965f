from odoo import api, fields, models

from .retainer_ledger_entry import CONTACT_TYPE_SELECTION

CONTACT_TYPES = tuple(key for key, _label in CONTACT_TYPE_SELECTION)


class RetainerLevel(models.Model):
    _name = "retainer.level"
    _description = "Retainer Support Level"
    _order = "sequence, id"

    # What a timesheet save reads of its level is the contact types and
    # their rates: the texts and the audit policy are in a prefetch group of
    # their own, out of the row every save reads (see README, Performance).
    name = fields.Char(required=True, translate=True, prefetch="level_details")
    sequence = fields.Integer(default=10, prefetch="level_details")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", help="Empty: all companies.")
    description = fields.Text(translate=True, prefetch="level_details")
    allow_phone = fields.Boolean(string="Telephone", default=True)
    allow_remote = fields.Boolean(string="Remote control")
    allow_onsite = fields.Boolean(string="On-site")
    phone_multiplier = fields.Float(string="Telephone rate", default=1.0)
    remote_multiplier = fields.Float(string="Remote rate", default=1.0)
    onsite_multiplier = fields.Float(string="On-site rate", default=1.0)
    audit_policy = fields.Selection(
        [
            ("company", "As the company setting"),
            ("required", "Always required"),
            ("not_required", "Never required"),
        ],
        default="company",
        required=True,
        help="Whether a new retainer of this level starts with an audit.",
        groups="base.group_user",
        prefetch="level_details",
    )

    _sql_constraints = [
        (
            "multipliers_positive",
            (
                "CHECK(phone_multiplier > 0 AND remote_multiplier > 0 "
                "AND onsite_multiplier > 0)"
            ),
            "A rate multiplier must be positive.",
        ),
    ]

    def _allowed_contact_types(self):
        """Return the contact types (keys of CONTACT_TYPES) this level includes."""
        self.ensure_one()
        return [ctype for ctype in CONTACT_TYPES if self[f"allow_{ctype}"]]

    def _multiplier(self, contact_type):
        """Return the rate applied to a duration of ``contact_type``."""
        self.ensure_one()
        return self[f"{contact_type}_multiplier"] if contact_type else 1.0

    def _default_contact_type(self):
        """Remote when the level includes it (the usual way support is given),
        else the first included type."""
        self.ensure_one()
        allowed = self._allowed_contact_types()
        if "remote" in allowed:
            return "remote"
        return allowed[0] if allowed else False

    @api.model
    def _audit_required_for(self, level, company):
        if level.audit_policy == "required":
            return True
        if level.audit_policy == "not_required":
            return False
        return company.retainer_audit_required
