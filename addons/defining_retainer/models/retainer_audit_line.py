from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .retainer_technology import ASSET_CATEGORY_SELECTION, SUPPORT_STATUS_SELECTION

# Rank of a support status in the customer's view: mismatches first.
SUPPORT_RANK = {"not_supported": 0, "limited": 1, "supported": 2}


class RetainerAuditLine(models.Model):
    """An audited asset of the customer's estate (the model kept its first
    name: the items of the first audits are assets of a first audit, see
    ``retainer.audit._retainer_adopt_legacy_lines``)."""

    _name = "retainer.audit.line"
    _description = "Audited Asset"
    _order = "audit_id, support_rank, category, name, id"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "retainer.contract", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="contract_id.company_id", store=True, precompute=True
    )
    audit_id = fields.Many2one(
        "retainer.audit",
        ondelete="cascade",
        index=True,
        help="The audit that recorded this asset (a retainer's later "
        "health-checks record their own).",
    )
    name = fields.Char(string="Asset", required=True)
    technology_id = fields.Many2one(
        "retainer.technology",
        check_company=True,
        help="The technology from the catalogue: the asset takes its support status.",
    )
    category = fields.Selection(
        ASSET_CATEGORY_SELECTION,
        compute="_compute_category",
        store=True,
        readonly=False,
        precompute=True,
    )
    quantity = fields.Integer(default=1)
    location = fields.Char()
    note = fields.Text()
    catalogue_status = fields.Selection(
        related="technology_id.support_status", string="Catalogue status"
    )
    support_status = fields.Selection(
        SUPPORT_STATUS_SELECTION,
        compute="_compute_support_status",
        store=True,
        readonly=False,
        precompute=True,
        help="The catalogue's status of the technology; staff may set "
        "another one with a reason.",
    )
    override_reason = fields.Text(
        string="Reason for the status",
        help="Why this asset's status differs from the catalogue's (or, "
        "without a technology, why it has this status).",
    )
    customer_note = fields.Text(related="technology_id.customer_note")
    supported = fields.Boolean(
        compute="_compute_supported",
        store=True,
        help="Not 'not supported' (limited support counts as supported).",
    )
    support_rank = fields.Integer(compute="_compute_supported", store=True)

    # === COMPUTE METHODS === #

    @api.depends("technology_id")
    def _compute_category(self):
        for line in self:
            if line.technology_id:
                line.category = line.technology_id.category
            elif not line.category:
                line.category = "other"

    @api.depends("technology_id")
    def _compute_support_status(self):
        for line in self:
            if line.technology_id:
                line.support_status = line.technology_id.support_status
            elif not line.support_status:
                line.support_status = "supported"

    @api.depends("support_status")
    def _compute_supported(self):
        for line in self:
            line.supported = line.support_status != "not_supported"
            line.support_rank = SUPPORT_RANK.get(line.support_status, 2)

    # === CONSTRAINT METHODS === #

    @api.constrains("support_status", "override_reason", "technology_id")
    def _check_override_reason(self):
        for line in self:
            if (line.override_reason or "").strip():
                continue
            if not line.technology_id:
                raise ValidationError(
                    self.env._(
                        "Asset %(asset)s has no technology from the catalogue: "
                        "pick one, or give the reason for its support status.",
                        asset=line.name,
                    )
                )
            if line.support_status != line.technology_id.support_status:
                raise ValidationError(
                    self.env._(
                        "Asset %(asset)s: the catalogue says %(catalogue)s for "
                        "%(technology)s; another status needs a reason.",
                        asset=line.name,
                        catalogue=line._status_label(line.catalogue_status),
                        technology=line.technology_id.name,
                    )
                )

    @api.constrains("audit_id", "contract_id")
    def _check_audit_contract(self):
        for line in self:
            if line.audit_id and line.audit_id.contract_id != line.contract_id:
                raise ValidationError(
                    self.env._(
                        "Asset %(asset)s belongs to retainer %(retainer)s, not to "
                        "the retainer of audit %(audit)s.",
                        asset=line.name,
                        retainer=line.contract_id.name,
                        audit=line.audit_id.name,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        self.check_access("create")  # who may not create is told so first
        self.env["retainer.technology"]._retainer_check_known(
            [vals.get("technology_id") for vals in vals_list]
        )
        Audit = self.env["retainer.audit"]
        for vals in vals_list:
            if vals.get("audit_id") and not vals.get("contract_id"):
                vals["contract_id"] = Audit.browse(vals["audit_id"]).contract_id.id
            elif vals.get("contract_id") and not vals.get("audit_id"):
                # An asset recorded on the retainer belongs to its audit in
                # progress (started when there is none).
                contract = self.env["retainer.contract"].browse(vals["contract_id"])
                vals["audit_id"] = contract._retainer_open_audit().id
        Audit.browse(
            [vals["audit_id"] for vals in vals_list if vals.get("audit_id")]
        )._retainer_check_editable()
        return super().create(vals_list)

    def write(self, vals):
        if "technology_id" in vals:
            self.check_access("write")  # who may not write is told so first
            self.env["retainer.technology"]._retainer_check_known(
                [vals["technology_id"]]
            )
        self.audit_id._retainer_check_editable()
        if vals.get("audit_id"):
            self.env["retainer.audit"].browse(
                vals["audit_id"]
            )._retainer_check_editable()
        return super().write(vals)

    def unlink(self):
        self.audit_id._retainer_check_editable()
        return super().unlink()

    # === BUSINESS METHODS === #

    def _status_label(self, status):
        return dict(
            self._fields["support_status"]._description_selection(self.env)
        ).get(status, "")

    def _retainer_unsupported_warning(self):
        """The warning of an asset the firm does not (fully) support, for
        whoever logs time on it; False for a supported asset (or none)."""
        if not self or all(asset.support_status == "supported" for asset in self):
            return False
        self.ensure_one()
        values = {
            "asset": self.name,
            "technology": self.technology_id.name or self.name,
            "note": self.customer_note or self.override_reason or "",
        }
        if self.support_status == "limited":
            return self.env._(
                "%(asset)s (%(technology)s) has limited support only: %(note)s",
                **values,
            )
        return self.env._(
            "%(asset)s (%(technology)s) is not supported by the firm: %(note)s "
            "Check with the account manager before logging time on it.",
            **values,
        )
