from odoo import api, fields, models

# Settings of the company's rounding policy, checked together (see
# res.company._check_retainer_rounding_policy).
ROUNDING_POLICY_SETTINGS = (
    "retainer_rounding_unit_minutes",
    "retainer_rounding_grace_minutes",
    "retainer_rounding_min_units",
    "retainer_day_hours",
)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retainer_rounding_method = fields.Selection(
        related="company_id.retainer_rounding_method", readonly=False, string="Rounding"
    )
    retainer_rounding_unit_minutes = fields.Integer(
        related="company_id.retainer_rounding_unit_minutes",
        readonly=False,
        string="Unit",
    )
    retainer_rounding_grace_minutes = fields.Integer(
        related="company_id.retainer_rounding_grace_minutes",
        readonly=False,
        string="Grace",
    )
    retainer_rounding_min_units = fields.Integer(
        related="company_id.retainer_rounding_min_units",
        readonly=False,
        string="Minimum",
    )
    retainer_rounding_scope = fields.Selection(
        related="company_id.retainer_rounding_scope", readonly=False
    )
    retainer_day_hours = fields.Float(
        related="company_id.retainer_day_hours", readonly=False, string="Day length"
    )
    retainer_overdraft_policy = fields.Selection(
        related="company_id.retainer_overdraft_policy",
        readonly=False,
        string="Overdraft",
    )
    retainer_outside_level = fields.Selection(
        related="company_id.retainer_outside_level",
        readonly=False,
        string="Work outside the level",
    )
    retainer_rollover_max_units = fields.Integer(
        related="company_id.retainer_rollover_max_units",
        readonly=False,
        string="Rollover",
    )
    retainer_rollover_validity_months = fields.Integer(
        related="company_id.retainer_rollover_validity_months",
        readonly=False,
        string="Rolled units valid for",
    )
    retainer_audit_required = fields.Boolean(
        related="company_id.retainer_audit_required",
        readonly=False,
        string="Audit first",
    )
    # --- Audits (see models/retainer_audit.py)
    retainer_audit_ack_required = fields.Boolean(
        related="company_id.retainer_audit_ack_required", readonly=False
    )
    retainer_audit_time = fields.Selection(
        related="company_id.retainer_audit_time", readonly=False
    )
    retainer_audit_product_id = fields.Many2one(
        related="company_id.retainer_audit_product_id", readonly=False
    )
    # --- end of audits
    retainer_credit_trigger = fields.Selection(
        related="company_id.retainer_credit_trigger",
        readonly=False,
        string="Units usable",
    )
    retainer_topup_document = fields.Selection(
        related="company_id.retainer_topup_document",
        readonly=False,
        string="Top-up document",
    )
    retainer_overdraft_mode = fields.Selection(
        related="company_id.retainer_overdraft_mode",
        readonly=False,
        string="Overdraft billing",
    )
    retainer_overdraft_auto_invoice = fields.Boolean(
        related="company_id.retainer_overdraft_auto_invoice",
        readonly=False,
        string="Invoice overdrafts automatically",
    )
    retainer_day_product_id = fields.Many2one(
        related="company_id.retainer_day_product_id", readonly=False, string="Day"
    )
    retainer_hour_product_id = fields.Many2one(
        related="company_id.retainer_hour_product_id", readonly=False, string="Hour"
    )
    retainer_overage_product_id = fields.Many2one(
        related="company_id.retainer_overage_product_id",
        readonly=False,
        string="Overage",
    )
    retainer_defer_revenue = fields.Boolean(
        related="company_id.retainer_defer_revenue",
        readonly=False,
        string="Deferred revenue",
    )
    retainer_deferred_account_id = fields.Many2one(
        related="company_id.retainer_deferred_account_id",
        readonly=False,
        string="Deferred revenue account",
    )
    retainer_revenue_account_id = fields.Many2one(
        related="company_id.retainer_revenue_account_id",
        readonly=False,
        string="Revenue account",
    )
    retainer_breakage_account_id = fields.Many2one(
        related="company_id.retainer_breakage_account_id",
        readonly=False,
        string="Breakage account",
    )
    retainer_revenue_journal_id = fields.Many2one(
        related="company_id.retainer_revenue_journal_id",
        readonly=False,
        string="Journal",
    )
    retainer_statement_frequency = fields.Selection(
        related="company_id.retainer_statement_frequency",
        readonly=False,
        string="Statements",
    )
    retainer_low_balance_units = fields.Integer(
        related="company_id.retainer_low_balance_units",
        readonly=False,
        string="Low balance alert",
    )
    retainer_expiry_warning_days = fields.Char(
        related="company_id.retainer_expiry_warning_days",
        readonly=False,
        string="Expiry warnings",
    )

    @api.model_create_multi
    def create(self, vals_list):
        """Write the rounding policy to the company in one go: a related
        field writes on its own, and a shorter unit with a shorter grace,
        saved together, would be refused half-written (a 5-minute grace of
        a 5-minute unit)."""
        # Who may not save settings is refused as before, not by the company.
        self.check_access("create")
        for vals in vals_list:
            policy = {
                fname: vals.pop(fname)
                for fname in ROUNDING_POLICY_SETTINGS
                if fname in vals
            }
            if not policy:
                continue
            company = (
                self.env["res.company"].browse(vals["company_id"])
                if vals.get("company_id")
                else self.env.company
            )
            changed = {
                fname: value
                for fname, value in policy.items()
                if company[fname] != value
            }
            if changed:
                company.write(changed)
        return super().create(vals_list)
