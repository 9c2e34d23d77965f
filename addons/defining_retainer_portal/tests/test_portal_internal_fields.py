from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import RetainerPortalCommon

RETAINER_MODULES = {"defining_retainer", "defining_retainer_portal"}

# What the two addons define on models a portal user may read, field by
# field: the customer's own information (their retainer, its usage, the
# terms it is charged by, their statements and orders) ...
CUSTOMER_FIELDS = {
    "account.analytic.line": {
        "retainer_billed_hours",
        "retainer_billed_outside",
        "retainer_contact_type",
        "retainer_id",
        "retainer_incident_ref",
        "retainer_units",
    },
    "account.move": {
        "retainer_ids",
        "retainer_overdraft_id",
        "retainer_overdraft_product_id",
        "retainer_overdraft_units",
    },
    "account.move.line": {"retainer_credit_text", "retainer_id"},
    "project.project": {"retainer_id"},
    "project.task": {"retainer_contact_type", "retainer_id"},
    "res.company": {
        "retainer_day_hours",
        "retainer_overdraft_policy",
        "retainer_rounding_grace_minutes",
        "retainer_rounding_method",
        "retainer_rounding_min_units",
        "retainer_rounding_scope",
        "retainer_rounding_unit_minutes",
    },
    "retainer.contract": {
        "alert_optout_partner_ids",
        "balance_days",
        "balance_hours",
        "balance_units",
        "block_ids",
        "company_currency_id",
        "company_id",
        "day_hours",
        "expiring_units",
        "forecast_date",
        "forecast_status",
        "ledger_entry_count",
        "ledger_entry_ids",
        "level_id",
        "low_balance_units",
        "name",
        "next_expiry_date",
        "notify_partner_ids",
        "overdraft_policy",
        "partner_id",
        "project_ids",
        "purchased_hours",
        "purchased_units",
        "rollover_max_units",
        "rollover_validity_months",
        "rounding_grace_minutes",
        "rounding_method",
        "rounding_min_units",
        "rounding_scope",
        "rounding_unit_minutes",
        "state",
        "statement_frequency",
        "statement_ids",
        "statement_optout_partner_ids",
        "statement_start_date",
        "timesheet_count",
        "timesheet_ids",
        "used_hours",
        "used_percent",
        "urgency_expiring_units",
        "urgency_forecast_date",
        "used_units",
        "user_id",
    },
    "retainer.ledger.entry": {
        "balance_after",
        "billed_hours",
        "block_entry_id",
        "company_currency_id",
        "company_id",
        "consumed_units",
        "contact_type",
        "contract_id",
        "date",
        "effective_kind",
        "employee_id",
        "entered_hours",
        "expired_units",
        "expiry_date",
        "hours",
        "incident_ref",
        "invoice_id",
        "is_block",
        "kind",
        "name",
        "paid_by_block_ids",
        "partner_id",
        "posted_at",
        "project_id",
        "remaining_units",
        "reversal_entry_ids",
        "reversed_entry_id",
        "reversed_kind",
        "rounding_policy",
        "rounding_scope",
        "sale_line_id",
        "signed_hours",
        "stranded_note",
        "timesheet_id",
        "topup_origin",
        "unit_minutes",
        "units",
    },
    "retainer.level": {
        "active",
        "allow_onsite",
        "allow_phone",
        "allow_remote",
        "company_id",
        "description",
        "name",
        "onsite_multiplier",
        "phone_multiplier",
        "remote_multiplier",
        "sequence",
    },
    "retainer.statement": {
        "attachment_id",
        "closing_units",
        "company_id",
        "contract_id",
        "date_from",
        "date_to",
        "opening_units",
        "partner_id",
        "sent_date",
        "topup_units",
        "usage_units",
    },
    "sale.order": {"retainer_id", "retainer_topup_origin"},
    "sale.order.line": {
        "retainer_credit_text",
        "retainer_delivered_text",
        "retainer_product_units",
        "retainer_product_uom_id",
    },
}

# ... and what is the firm's own business: notes, flags of the jobs,
# settings and bookkeeping. A portal user reads none of them.
INTERNAL_FIELDS = {
    "account.analytic.line": {
        "retainer_balance_hours",
        "retainer_balance_units",
        "retainer_charged_hours",
        "retainer_charged_units",
        "retainer_incident_hours",
        "retainer_incident_summary",
        "retainer_incident_units",
    },
    "account.move.line": {"retainer_deferred"},
    "project.task": {
        "retainer_asset_category",
        "retainer_asset_id",
    },
    "res.company": {
        "retainer_audit_ack_required",
        "retainer_audit_product_id",
        "retainer_audit_required",
        "retainer_audit_time",
        "retainer_breakage_account_id",
        "retainer_credit_trigger",
        "retainer_day_product_id",
        "retainer_defer_revenue",
        "retainer_deferred_account_id",
        "retainer_expiry_warning_days",
        "retainer_hour_product_id",
        "retainer_low_balance_units",
        "retainer_outside_level",
        "retainer_overage_product_id",
        "retainer_overdraft_auto_invoice",
        "retainer_overdraft_mode",
        "retainer_portal_topup_hourly_limit",
        "retainer_portal_topup_mode",
        "retainer_recognized_until",
        "retainer_revenue_account_id",
        "retainer_revenue_journal_id",
        "retainer_rollover_max_units",
        "retainer_rollover_validity_months",
        "retainer_statement_frequency",
        "retainer_topup_document",
    },
    "retainer.contract": {
        "audit_ids",
        "audit_line_ids",
        "audit_required",
        "audit_state",
        "audit_waive_reason",
        "auto_topup",
        "auto_topup_product_id",
        "auto_topup_quantity",
        "auto_topup_threshold_units",
        "auto_topup_token_id",
        "auto_topup_triggered",
        "current_audit_id",
        "expiry_warning_ids",
        "invoice_count",
        "ledger_version",
        "low_balance_notified",
        "order_ids",
        "outside_hours_to_invoice",
        "overdraft_invoice_ids",
        "overdraft_mode",
        "overdraft_notified",
        "recognized_value",
        "recurring_auto_confirm",
        "recurring_document",
        "recurring_interval",
        "recurring_next_date",
        "recurring_quantity",
        "recurring_start_date",
        "revenue_line_ids",
        "sale_order_count",
        "unearned_value",
        "unsupported_audit_line_ids",
        "usage_lock_date",
    },
    "retainer.ledger.entry": {
        "manual_unit_value",
        "reason",
        "unit_value",
        "user_id",
        "value_move_id",
        "value_pending",
    },
    "retainer.level": {"audit_policy"},
    "sale.order": {
        "retainer_auto_topup_state",
        "retainer_credit_trigger",
        "retainer_recurring_period_start",
    },
    "sale.order.line": {"retainer_credited_units"},
}

WAIVER_REASON = "Customer refused the audit; waived by the director"


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalInternalFields(RetainerPortalCommon):
    """A portal user reads, through RPC, the customer information the
    portal shows and none of the firm's internal fields."""

    def _retainer_fields(self, Model):
        """The fields the two addons define on ``Model`` (not the magic
        columns every model has)."""
        return {
            name
            for name, field in Model._fields.items()
            if RETAINER_MODULES.intersection(field._modules or ())
            and not field.automatic
            and name != "display_name"
        }

    def test_internal_fields_unreadable(self):
        for model, names in INTERNAL_FIELDS.items():
            Model = self.env[model].with_user(self.portal_user)
            for name in sorted(names):
                with (
                    self.subTest(model=model, field=name),
                    self.assertRaisesRegex(AccessError, name),
                ):
                    Model.check_field_access_rights("read", [name])
                self.assertNotIn(name, Model.fields_get([name]))

    def test_audit_waiver_reason_unreadable(self):
        """Why an audit was waived is the firm's note: the customer reads
        their retainer, not it."""
        self.retainer.sudo().audit_waive_reason = WAIVER_REASON
        retainer = self.retainer.with_user(self.portal_user)
        with self.assertRaisesRegex(AccessError, "audit_waive_reason"):
            retainer.read(["audit_waive_reason"])
        with self.assertRaisesRegex(AccessError, "audit_waive_reason"):
            retainer.search_read([], ["name", "audit_waive_reason"])
        rows = retainer.search_read([("id", "=", self.retainer.id)], ["name", "state"])
        self.assertEqual(rows[0]["name"], self.retainer.name)
        self.assertNotIn(WAIVER_REASON, str(rows))

    def test_every_field_is_classified(self):
        """Each field the addons add on a model a portal user may read is
        either customer information or internal (then unreadable): a new
        field must be classified here."""
        for model in sorted(self.env.registry):
            Model = self.env[model]
            if Model._abstract or Model._transient:
                continue
            ours = self._retainer_fields(Model)
            if not ours or not Model.with_user(self.portal_user).has_access("read"):
                continue
            with self.subTest(model=model):
                customer = CUSTOMER_FIELDS.get(model, set())
                internal = INTERNAL_FIELDS.get(model, set())
                self.assertEqual(ours - customer - internal, set(), "unclassified")
                self.assertEqual(customer & internal, set())
                readable = {
                    name
                    for name in ours
                    if Model._fields[name].is_accessible(
                        Model.with_user(self.portal_user).env
                    )
                }
                self.assertEqual(readable, customer)

    def test_portal_page_shows_the_customer_information(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(page.status_code, 200)
        self.assertIn("Server recovery after power cut", page.text)
        retainers = self.url_open("/my/retainers")
        self.assertEqual(retainers.status_code, 200)
        self.assertIn(self.retainer.name, retainers.text)
