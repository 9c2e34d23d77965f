import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, format_date, split_every

from ..tools import forecast as forecast_tools
from ..tools.alerts import crosses_low_balance, due_warning
from ..tools.allocation import CHECKPOINT_VERSION
from ..tools.durations import format_days, format_duration_human
from ..tools.rounding import (
    duration_to_units,
    incident_units,
    parse_policy_key,
    policy_key,
    units_to_hours,
)
from ..tools.server_values import server_values
from ..tools.statement import period_start, running_balances
from .res_company import (
    OVERDRAFT_POLICY_SELECTION,
    ROUNDING_METHOD_SELECTION,
    ROUNDING_SCOPE_SELECTION,
    STATEMENT_FREQUENCY_SELECTION,
)
from .retainer_ledger_entry import EXPIRING_SOON_DAYS, NO_LIMIT
from .retainer_level import CONTACT_TYPES

LEDGER_BOUND_FIELDS = {"rounding_unit_minutes", "partner_id", "company_id"}

# A correction can create or change a rollover block, which moves usage
# again; a few rounds always settle (each round only shrinks or grows the
# rollovers of blocks that already expired).
MAX_CORRECTION_ROUNDS = 5


def _compare(left, operator, right):
    return {
        "=": left == right,
        "!=": left != right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[operator]


FORECAST_STATUS_SELECTION = [
    (forecast_tools.STATUS_OVERDRAWN, "Overdrawn"),
    (forecast_tools.STATUS_EXHAUSTED, "Used up"),
    (forecast_tools.STATUS_FORECAST, "Forecast"),
    (forecast_tools.STATUS_BEYOND, "Beyond 5 years"),
    (forecast_tools.STATUS_NO_USAGE, "No recent usage"),
]


_logger = logging.getLogger(__name__)


# Kinds of customer email a contact can switch off, each with its message
# subtype (data/mail_message_subtype_data.xml) and its opt-out field.
CUSTOMER_MAIL_KINDS = {
    "alert": ("defining_retainer.mt_retainer_alert", "alert_optout_partner_ids"),
    "statement": (
        "defining_retainer.mt_retainer_statement",
        "statement_optout_partner_ids",
    ),
}


TEMPLATE_LOW_BALANCE = "defining_retainer.mail_template_retainer_low_balance"


TEMPLATE_EXPIRY = "defining_retainer.mail_template_retainer_expiry"


def _has_dated_blocks(contract_id):
    """SQL: whether the contract ``contract_id`` (an SQL term) has dated
    blocks, credits with an expiry date (a partial index makes it a
    lookup, whatever the size of the ledger)."""
    return SQL(
        "EXISTS(SELECT 1 FROM retainer_ledger_entry e WHERE e.contract_id = %s "
        "AND e.kind = 'credit' AND e.expiry_date IS NOT NULL)",
        contract_id,
    )


def _prefetched_columns(model):
    """Names of the fields of ``model`` that its first use in the user's
    environment fetches: those of the default prefetch group the user may
    read (see ``BaseModel._fetch_field``), each with a column of its own.
    A field whose value is composed from its column (translated, company
    dependent, binary) is left to the ORM."""
    return tuple(
        field.name
        for field in model._fields.values()
        if field.prefetch is True
        and field.store
        and field.column_type
        and field.name != "id"
        and field.type != "binary"
        and not field.translate
        and not field.company_dependent
        and field.is_accessible(model.env)
    )


# The alias of the contract's level in the query of _lock_for_usage.
USAGE_LEVEL_ALIAS = "usage_level"


class RetainerContract(models.Model):
    _name = "retainer.contract"
    _description = "Retainer"
    _inherit = [
        "portal.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "retainer.server.values.mixin",
    ]
    _order = "id desc"
    _check_company_auto = True

    # Whether time can be debited (the state and its audit) and the markers
    # of what a posting already did (alerts sent, automatic top-up ordered,
    # the ledger's version): the server's alone. The state changes through
    # the action buttons, the markers through the postings.
    _retainer_server_fields = frozenset(
        {
            "state",
            "audit_state",
            "audit_required",
            "audit_waive_reason",
            "ledger_version",
            "low_balance_notified",
            "overdraft_notified",
            "auto_topup_triggered",
            "urgency_forecast_date",
            "urgency_expiring_units",
        }
    )

    # === FIELDS === #

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/"
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        tracking=True,
        check_company=True,
        index=True,
        domain="[('parent_id', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    user_id = fields.Many2one(
        "res.users",
        string="Account Manager",
        default=lambda self: self.env.user,
        tracking=True,
        domain="[('share', '=', False)]",
    )
    level_id = fields.Many2one(
        "retainer.level",
        required=True,
        tracking=True,
        check_company=True,
        domain=[("active", "=", True)],
        default=lambda self: self._default_level_id(),
    )
    project_ids = fields.One2many(
        "project.project",
        "retainer_id",
        string="Projects",
        help="Timesheets on these projects consume this retainer.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("audit", "Audit"),
            ("active", "Active"),
            ("suspended", "Suspended"),
            ("closed", "Closed"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    overdraft_policy = fields.Selection(
        OVERDRAFT_POLICY_SELECTION,
        required=True,
        tracking=True,
        default=lambda self: self.env.company.retainer_overdraft_policy,
    )
    day_hours = fields.Float(
        required=True,
        default=lambda self: self.env.company.retainer_day_hours,
        help="Hours in one retainer day (not Odoo's 8-hour Day unit).",
    )
    rounding_method = fields.Selection(
        ROUNDING_METHOD_SELECTION,
        required=True,
        tracking=True,
        default=lambda self: self.env.company.retainer_rounding_method,
    )
    rounding_unit_minutes = fields.Integer(
        string="Unit (minutes)",
        required=True,
        default=lambda self: self.env.company.retainer_rounding_unit_minutes,
    )
    rounding_grace_minutes = fields.Integer(
        string="Grace (minutes)",
        required=True,
        default=lambda self: self.env.company.retainer_rounding_grace_minutes,
    )
    rounding_min_units = fields.Integer(
        string="Minimum units per entry",
        required=True,
        default=lambda self: self.env.company.retainer_rounding_min_units,
    )
    # Read when an incident gets its first debit: the incident keeps that
    # scope (see account.analytic.line._retainer_sync_incidents), so a later
    # change never re-prices recorded time.
    rounding_scope = fields.Selection(
        ROUNDING_SCOPE_SELECTION,
        string="Rounding scope",
        required=True,
        tracking=True,
        default=lambda self: self.env.company.retainer_rounding_scope or "entry",
        help="Each entry: every timesheet entry is rounded on its own. Each "
        "incident: the time of an incident (its ticket, else its task, else "
        "the entry) is rounded once, the minimum once, and each entry posts "
        "the difference it makes. Incidents already charged keep the scope "
        "of their first charge.",
    )
    usage_lock_date = fields.Date(
        tracking=True,
        copy=False,
        help="Nothing dated on or before this date is posted on this retainer "
        "any more: timesheets can no longer be created, changed or deleted, "
        "manual credits and adjustments are refused, and corrections that "
        "follow a document or time are dated the day after.",
        groups="base.group_user",
    )
    # Audit and health-check of the customer's estate before activation.
    audit_required = fields.Boolean(readonly=True, copy=False, groups="base.group_user")
    audit_state = fields.Selection(
        [
            ("pending", "Pending"),
            ("to_acknowledge", "Awaiting acknowledgement"),
            ("done", "Completed"),
            ("waived", "Waived"),
        ],
        default="pending",
        readonly=True,
        copy=False,
        tracking=True,
        groups="base.group_user",
    )
    audit_waive_reason = fields.Text(
        readonly=True, copy=False, groups="base.group_user"
    )
    audit_line_ids = fields.One2many(
        "retainer.audit.line",
        "contract_id",
        string="Audited assets",
        groups="base.group_user",
    )
    # --- Audits (see models/retainer_audit.py): earlier health-checks stay
    # as history, the latest one is current.
    audit_ids = fields.One2many(
        "retainer.audit", "contract_id", string="Audits", groups="base.group_user"
    )
    current_audit_id = fields.Many2one(
        "retainer.audit",
        compute="_compute_current_audit_id",
        string="Current audit",
        groups="base.group_user",
    )
    # --- end of audits
    # The current audit's alone: what earlier audits found is their history.
    unsupported_audit_line_ids = fields.Many2many(
        "retainer.audit.line",
        string="Unsupported assets",
        compute="_compute_unsupported_audit_line_ids",
        groups="base.group_user",
    )
    ledger_entry_ids = fields.One2many(
        "retainer.ledger.entry", "contract_id", string="Ledger"
    )
    timesheet_ids = fields.One2many("account.analytic.line", "retainer_id")
    # Updated by the postings that others must not act on with an older
    # view (see _lock_for_posting): a concurrent one then fails, and is
    # retried.
    ledger_version = fields.Integer(
        readonly=True, copy=False, default=0, groups="base.group_user"
    )

    purchased_units = fields.Integer(compute="_compute_balances")
    used_units = fields.Integer(compute="_compute_balances")
    balance_units = fields.Integer(compute="_compute_balances")
    balance_hours = fields.Float(compute="_compute_balances")
    balance_days = fields.Float(compute="_compute_balances")
    purchased_hours = fields.Float(compute="_compute_balances")
    used_hours = fields.Float(compute="_compute_balances")
    used_percent = fields.Float(compute="_compute_balances")
    timesheet_count = fields.Integer(compute="_compute_timesheet_count")
    ledger_entry_count = fields.Integer(compute="_compute_ledger_entry_count")

    # === DEFAULTS === #

    def _default_level_id(self):
        return self.env["retainer.level"].search(
            [("company_id", "in", [False, self.env.company.id])], limit=1
        )

    # === COMPUTE METHODS === #

    def _compute_access_url(self):
        # Every retainer has its own portal page: portal.mixin's '#' default
        # is not needed.
        for contract in self:
            contract.access_url = f"/my/retainers/{contract.id}"

    @api.depends("ledger_entry_ids.units", "rounding_unit_minutes", "day_hours")
    def _compute_balances(self):
        # Read from the newest checkpoint's balance and the few credits,
        # expiries and adjustments, not from every entry: the usage is what
        # the balance leaves of them.
        sums = self._origin._retainer_ledger_sums()
        for contract in self:
            figures = sums.get(contract._origin.id)
            balance = figures["balance"] if figures else 0
            purchased = figures["credit"] if figures else 0
            used = (
                purchased + figures["expiry"] + figures["adjustment"] - balance
                if figures
                else 0
            )
            unit = contract.rounding_unit_minutes or 15
            contract.purchased_units = purchased
            contract.used_units = used
            contract.balance_units = balance
            contract.purchased_hours = units_to_hours(purchased, unit)
            contract.used_hours = units_to_hours(used, unit)
            contract.balance_hours = units_to_hours(balance, unit)
            contract.balance_days = (
                contract.balance_hours / contract.day_hours if contract.day_hours else 0
            )
            contract.used_percent = 100.0 * used / purchased if purchased > 0 else 0.0

    @api.depends("ledger_entry_ids")
    def _compute_ledger_entry_count(self):
        counts = dict(
            self.env["retainer.ledger.entry"]._read_group(
                [("contract_id", "in", self._origin.ids)], ["contract_id"], ["__count"]
            )
        )
        for contract in self:
            contract.ledger_entry_count = counts.get(contract._origin, 0)

    def _compute_timesheet_count(self):
        if not self.env["account.analytic.line"].has_access("read"):
            # A salesman sees retainers, not the timesheets behind them.
            self.timesheet_count = 0
            return
        counts = dict(
            self.env["account.analytic.line"]._read_group(
                [("retainer_id", "in", self._origin.ids)], ["retainer_id"], ["__count"]
            )
        )
        for contract in self:
            contract.timesheet_count = counts.get(contract._origin, 0)

    # --- Audits: the latest audit not abandoned by a waiver.
    @api.depends("audit_ids.state", "audit_ids.date")
    def _compute_current_audit_id(self):
        for contract in self:
            audits = contract.audit_ids.filtered(lambda a: a.state != "waived")
            contract.current_audit_id = audits.sorted(
                lambda a: (a.date, a._origin.id or 0), reverse=True
            )[:1]

    # The latest completed audit's (a new health-check in progress changes
    # nothing until it is completed), else the first audit's in progress.
    @api.depends("current_audit_id", "audit_ids.asset_ids.support_status")
    def _compute_unsupported_audit_line_ids(self):
        for contract in self:
            completed = contract.audit_ids.filtered(lambda a: a.state == "done")
            audit = (
                completed.sorted(lambda a: (a.date, a._origin.id or 0))[-1:]
                or contract.current_audit_id
            )
            contract.unsupported_audit_line_ids = audit.asset_ids.filtered(
                lambda asset: asset.support_status == "not_supported"
            )

    # === CONSTRAINT METHODS === #

    @api.constrains("state", "audit_required", "audit_state")
    def _check_audit_before_active(self):
        for contract in self:
            if (
                contract.state == "active"
                and contract.audit_required
                and contract.audit_state not in ("done", "waived")
            ):
                raise ValidationError(
                    self.env._(
                        "Retainer %(name)s cannot be active before its audit is "
                        "completed or waived.",
                        name=contract.name,
                    )
                )

    @api.constrains(
        "rounding_unit_minutes",
        "rounding_grace_minutes",
        "rounding_min_units",
        "day_hours",
    )
    def _check_policy(self):
        for contract in self:
            self.env["res.company"]._retainer_check_rounding_policy(
                unit_minutes=contract.rounding_unit_minutes,
                grace_minutes=contract.rounding_grace_minutes,
                min_units=contract.rounding_min_units,
                day_hours=contract.day_hours,
            )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        Level = self.env["retainer.level"]
        # A client may start a retainer as a draft, the state that allows
        # nothing; every other state and the audit are decided here.
        drafts = [vals.get("state") == "draft" for vals in vals_list]
        vals_list = self._retainer_client_vals_list(vals_list)
        for vals, draft in zip(vals_list, drafts, strict=True):
            if draft:
                vals["state"] = "draft"
            company = self.env["res.company"].browse(
                vals.get("company_id") or self.env.company.id
            )
            if vals.get("name", "/") == "/":
                vals["name"] = (
                    self.env["ir.sequence"]
                    .with_company(company)
                    .next_by_code("retainer.contract")
                    or "/"
                )
            level = (
                Level.browse(vals.get("level_id"))
                or self.with_company(company)._default_level_id()
            )
            self._check_level_active(level)
            vals.setdefault("audit_required", Level._audit_required_for(level, company))
            if "state" not in vals:
                vals["state"] = "audit" if vals["audit_required"] else "active"
        with server_values():  # the audit and state decided above
            contracts = super().create(vals_list)
        contracts._retainer_subscribe_contacts()
        return contracts

    def write(self, vals):
        vals = self._retainer_client_vals(vals)
        if vals.get("level_id"):
            # Only a change of level is checked: retainers whose level was
            # archived since keep it, and their other fields stay editable.
            level = self.env["retainer.level"].browse(vals["level_id"])
            if self.filtered(lambda contract: contract.level_id != level):
                self._check_level_active(level)
        # The unit length, customer and company give the ledger's units their
        # meaning: they cannot change once the ledger has entries.
        if LEDGER_BOUND_FIELDS.intersection(vals) and self.env[
            "retainer.ledger.entry"
        ].search_count([("contract_id", "in", self.ids)], limit=1):
            changed = self.filtered(
                lambda c: any(
                    c._fields[f].convert_to_write(c[f], c) != vals[f]
                    for f in LEDGER_BOUND_FIELDS.intersection(vals)
                )
            )
            if changed:
                raise UserError(
                    self.env._(
                        "Retainer %(name)s already has ledger entries: its unit "
                        "length, customer and company can no longer change.",
                        name=changed[0].name,
                    )
                )
        # Statements: periods spent in draft or audit are not sent on
        # activation.
        starting = self.browse()
        if vals.get("state") == "active":
            starting = self.filtered(lambda c: c.state in ("draft", "audit"))
        if "low_balance_units" in vals:
            # Alerts: the next crossing of a new threshold is alerted.
            vals = vals | {"low_balance_notified": False}
            with server_values():
                result = super().write(vals)
        else:
            result = super().write(vals)
        if "notify_partner_ids" in vals or "partner_id" in vals:
            self._retainer_subscribe_contacts()
        if starting:
            starting._statement_restart()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_ledger(self):
        if self.env["retainer.ledger.entry"].search_count(
            [("contract_id", "in", self.ids)], limit=1
        ):
            raise UserError(
                self.env._(
                    "A retainer with ledger entries cannot be deleted: close it."
                )
            )

    # === ACTION METHODS === #

    def action_activate(self):
        """Draft → audit when one is required, else active."""
        for contract in self:
            if contract.state != "draft":
                raise UserError(self.env._("Only a draft retainer can be activated."))
            contract._set_state("audit" if contract.audit_required else "active")

    def action_complete_audit(self):
        """Complete the audit in progress of these retainers in audit (see
        ``retainer.audit.action_complete``)."""
        for contract in self:
            if contract.state != "audit":
                raise UserError(self.env._("This retainer is not in audit."))
            if contract.audit_state == "to_acknowledge":
                raise UserError(
                    self.env._(
                        "The audit of %(retainer)s is completed and waits for the "
                        "customer's acknowledgement (or a manager's waiver).",
                        retainer=contract.name,
                    )
                )
            if not contract.current_audit_id.filtered(lambda a: a.state == "draft"):
                raise UserError(
                    self.env._(
                        "Record the customer's assets and technologies before "
                        "completing the audit, or waive it."
                    )
                )
        return self.current_audit_id.action_complete()

    # --- Audits: what the audit's outcome does to the retainer.
    def _retainer_open_audit(self):
        """The audit in progress of this retainer, started when there is
        none."""
        self.ensure_one()
        audit = self.audit_ids.filtered(lambda a: a.state == "draft")[:1]
        return audit or self.env["retainer.audit"].create({"contract_id": self.id})

    def _retainer_audit_completed(self, audit):
        """Staff completed ``audit``: a retainer in audit becomes active, or
        waits for the customer's acknowledgement when its company needs
        one."""
        self.ensure_one()
        if self.state != "audit":
            return
        if self.company_id.retainer_audit_ack_required and not audit.acknowledged_date:
            self._set_state("audit", audit_state="to_acknowledge")
            return
        self._retainer_audit_activate()

    def _retainer_audit_acknowledged(self, audit):
        """The customer acknowledged ``audit``: a retainer waiting for it
        becomes active."""
        self.ensure_one()
        if self.state == "audit" and self.audit_state == "to_acknowledge":
            self._retainer_audit_activate()

    def _retainer_audit_activate(self):
        self._set_state("active", audit_state="done")
        self._retainer_audit_debit_pending()

    def _retainer_audit_debit_pending(self):
        """Time spent auditing that waited for the retainer (``debit``): its
        own debits, dated when the work was done. sudo: the audit's time,
        whoever logged it, moved by the activation itself."""
        pending = self.audit_ids._retainer_pending_time()
        for contract in self:
            lines = pending.filtered(
                lambda line, c=contract: line.project_id.retainer_id == c
            )
            if lines:
                lines.sudo().write({"retainer_id": contract.id})

    def action_new_audit(self):
        """Start a new health-check of an audited retainer (earlier audits
        stay as history)."""
        self._check_manager()
        self.ensure_one()
        audit = self._retainer_open_audit()
        return {
            "type": "ir.actions.act_window",
            "res_model": "retainer.audit",
            "res_id": audit.id,
            "view_mode": "form",
        }

    # --- end of audits

    def _waive_audit(self, reason):
        """Activate without an audit. Managers only; ``reason`` is required."""
        self._check_manager()
        if not (reason or "").strip():
            raise UserError(self.env._("Waiving an audit needs a reason."))
        for contract in self:
            if contract.state != "audit":
                raise UserError(self.env._("This retainer is not in audit."))
        self._set_state("active", audit_state="waived", audit_waive_reason=reason)
        # The audit in progress is abandoned; a completed one no longer
        # waits for the customer's acknowledgement.
        audits = self.audit_ids.filtered(
            lambda a: (
                a.state == "draft" or (a.state == "done" and not a.acknowledged_date)
            )
        ).with_context(retainer_audit_server_write=True)
        with server_values():
            audits.filtered(lambda a: a.state == "draft").write({"state": "waived"})
            audits.filtered(lambda a: a.state == "done").write(
                {"acknowledgement_waived": True}
            )
        self._retainer_audit_debit_pending()
        for contract in self:
            contract.message_post(
                body=self.env._("Audit waived: %(reason)s", reason=reason)
            )

    def action_suspend(self):
        self._check_manager()
        if self.filtered(lambda c: c.state != "active"):
            raise UserError(self.env._("Only an active retainer can be suspended."))
        self._set_state("suspended")

    def action_close(self):
        self._check_manager()
        if self.filtered(lambda c: c.state == "closed"):
            raise UserError(self.env._("This retainer is already closed."))
        self._set_state("closed")

    def action_reopen(self):
        self._check_manager()
        if self.filtered(lambda c: c.state not in ("suspended", "closed")):
            raise UserError(
                self.env._("Only a suspended or closed retainer can be reopened.")
            )
        self._set_state("active")

    def _set_state(self, state, **audit_vals):
        """Move these retainers to ``state`` (with the audit's outcome in
        ``audit_vals``): the one way the lifecycle's fields are written,
        once the action calling it has checked the transition."""
        with server_values():
            self.write({"state": state, **audit_vals})

    def action_view_timesheets(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "hr_timesheet.timesheet_action_all"
        )
        action.update(
            domain=[("retainer_id", "=", self.id)],
            context={"default_retainer_id": self.id, "search_default_groupby_date": 0},
            display_name=self.env._("Timesheets of %(name)s", name=self.name),
        )
        return action

    def action_view_ledger(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_ledger_entry_action"
        )
        action.update(
            domain=[("contract_id", "=", self.id)],
            context={"default_contract_id": self.id},
        )
        return action

    # === BUSINESS METHODS === #

    @api.model
    def _check_level_active(self, level):
        """:raises ValidationError: ``level`` is archived (no new retainer
        and no change of level may use it)."""
        if level and not level.active:
            raise ValidationError(
                self.env._(
                    "Support level %(level)s is archived: choose an active level.",
                    level=level.display_name,
                )
            )

    def _check_manager(self):
        if not (
            self.env.su
            or self.env.user.has_group("defining_retainer.group_retainer_manager")
        ):
            raise AccessError(self.env._("Only a retainer manager can do this."))

    def _retainer_units_for(self, hours, contact_type):
        """Units this contract bills for ``hours`` (float) of work of
        ``contact_type``: the level's rate for the type is applied to the
        duration, then the contract's rounding policy."""
        return self._retainer_unit_counter()(hours, contact_type)

    def _retainer_unit_counter(self):
        """Return ``count(hours, contact_type) -> units`` with this contract's
        policy and rates read once, for loops over many timesheets."""
        policy, rates = self._retainer_rounding_policy()

        def count(hours, contact_type):
            return duration_to_units(hours * rates.get(contact_type, 1.0), **policy)

        return count

    def _retainer_incident_counter(self, policy_key=None):
        """Return ``count([(hours, contact_type)]) -> units`` of one
        incident rounded once with this contract's rates and the policy
        named by ``policy_key`` (an incident's first debit's, see
        ``tools.rounding.policy_key``), else this contract's policy now (see
        ``tools.rounding.incident_units``), read once for many incidents."""
        policy, rates = self._retainer_rounding_policy()
        policy = parse_policy_key(policy_key) or policy

        def count(entries):
            return incident_units(
                ((hours, rates.get(ctype, 1.0)) for hours, ctype in entries), **policy
            )

        return count

    def _retainer_policy_key(self):
        """The key naming this contract's rounding policy now, as its
        incidents' debits record it (``tools.rounding.policy_key``)."""
        return policy_key(**self._retainer_rounding_policy()[0])

    def _retainer_rounding_policy(self):
        """``(policy, rates)``: this contract's rounding policy as keyword
        arguments of ``tools.rounding``, and its level's rate multiplier
        per contact type."""
        self.ensure_one()
        policy = {
            "unit_minutes": self.rounding_unit_minutes,
            "grace_minutes": self.rounding_grace_minutes,
            "min_units": self.rounding_min_units,
            "method": self.rounding_method,
        }
        level = self.level_id
        return policy, {ctype: level._multiplier(ctype) for ctype in CONTACT_TYPES}

    def _format_units(self, units):
        """``units`` as text with the matching hours, e.g. ``6 units (1 h 30 min)``."""
        self.ensure_one()
        return self.env._(
            "%(units)s units (%(hours)s)",
            units=units,
            hours=self._format_duration(
                units_to_hours(units, self.rounding_unit_minutes)
            ),
        )

    @api.depends("name", "partner_id")
    @api.depends_context("retainer_show_partner")
    def _compute_display_name(self):
        """With ``retainer_show_partner`` in the context (analyses grouped
        by retainer), the customer follows the reference: ``RET/0001 ·
        Acme``."""
        if not self.env.context.get("retainer_show_partner"):
            return super()._compute_display_name()
        for contract in self:
            customer = contract.partner_id.commercial_partner_id.name
            contract.display_name = (
                f"{contract.name} · {customer}" if customer else contract.name
            )

    @api.model
    def _format_duration(self, hours, day_hours=None):
        """``hours`` as people read them, ``22 h 45 min`` (never a clock
        time); with ``day_hours``, the days follow from one day on, whole or
        to one decimal: ``14 h (2 days)``."""
        text = format_duration_human(hours)
        days = format_days(hours, day_hours) if day_hours else None
        if days is None:
            return text
        if days in ("1", "-1"):
            return self.env._("%(duration)s (%(days)s day)", duration=text, days=days)
        return self.env._("%(duration)s (%(days)s days)", duration=text, days=days)

    def _post_manual_entry(
        self,
        kind,
        units,
        reason,
        date=None,
        expiry_date=None,
        **options,
    ):
        """Post a manager's credit or signed adjustment with its reason.

        A manager's correction is never refused by the overdraft policy.
        ``expiry_date`` (credits only) makes the credit a dated block.
        ``options`` are for the features that extend
        ``_prepare_manual_entry_vals`` (the revenue's ``unit_value`` and
        ``value_account`` of a credit).
        """
        self.ensure_one()
        self._check_manager()
        if kind not in ("credit", "adjustment"):
            raise UserError(
                self.env._("Only credits and adjustments are posted by hand.")
            )
        if kind == "credit" and units <= 0:
            raise UserError(self.env._("A credit must add a positive number of units."))
        if not units:
            raise UserError(self.env._("An adjustment of zero units changes nothing."))
        if self.state == "closed":
            raise UserError(self.env._("Retainer %(name)s is closed.", name=self.name))
        if expiry_date and kind != "credit":
            raise UserError(self.env._("Only a credit can have an expiry date."))
        date = fields.Date.to_date(date) or fields.Date.context_today(self)
        vals = {
            "contract_id": self.id,
            "kind": kind,
            "units": units,
            "reason": reason,
            "date": date,
            "expiry_date": expiry_date or False,
        }
        vals = self._prepare_manual_entry_vals(vals, **options)
        entry = self.env["retainer.ledger.entry"]._post(
            [vals], apply_overdraft_policy=False
        )
        self.message_post(
            body=self.env._(
                "%(kind)s of %(units)s: %(reason)s",
                kind=dict(entry._fields["kind"]._description_selection(self.env))[kind],
                units=self._format_units(units),
                reason=reason,
            )
        )
        return entry

    def _prepare_manual_entry_vals(self, vals, **options):
        """Hook: the ledger values of a manual entry (``vals``, checked by
        ``_post_manual_entry``) from its ``options``. A feature that gives
        manual entries a meaning of its own (the value of a credit, see
        retainer_contract_sale.py) extends it with ``super()`` and takes
        its options; one left over is refused.

        :raises UserError: an option no feature takes.
        """
        if options:
            raise UserError(
                self.env._(
                    "Unknown option of a manual entry: %(options)s.",
                    options=", ".join(sorted(options)),
                )
            )
        return vals

    def _get_report_base_filename(self):
        self.ensure_one()
        return self.env._("Retainer %(name)s", name=self.name)

    # -------------------------------------------------------------------------
    # POSTING: LOCKING, EXPIRY CORRECTIONS, OVERDRAFT POLICY
    # -------------------------------------------------------------------------
    # The retainer's side of the posting path: locking, expiry corrections
    # and the overdraft policy.

    # Set when a warned overdraft was notified, cleared when the balance is
    # back: one notification per overdraft, whoever posts.
    overdraft_notified = fields.Boolean(
        readonly=True, copy=False, groups="base.group_user"
    )

    def _lock_for_posting(self, bump=False):
        """Lock the contract rows about to get ledger entries.

        Every posting takes the rows ``FOR NO KEY UPDATE`` (in id order, so
        no deadlock) and keeps them until its transaction ends: postings on
        a retainer wait for each other instead of failing (a timesheet save
        takes the same lock first, with its reads: :meth:`_lock_for_usage`).
        Nothing updates the row, so a waiting posting never gets a
        serialization failure.
        Under REPEATABLE READ it still reads the ledger as it was when its
        transaction started: what a decision needs (a balance, the
        allocation) is read with ``retainer.ledger.entry._retainer_current_*``,
        which also sees what was committed since.

        :param bool bump: also update the rows. For postings that write
            entries which a concurrent posting may act on (expiries and
            rollovers, reversals of credits): a posting that started before
            and waits for the lock then fails with a serialization failure
            and Odoo retries it with a view that includes these entries.
        :returns: the ids of the contracts that have dated blocks (credits
            with an expiry date), read by the same query: a posting replays
            their allocation (an index of the dated blocks makes it a
            lookup, whatever the size of the ledger).
        """
        if not self:
            return set()
        self.env.cr.execute(
            SQL(
                "SELECT c.id, %s FROM retainer_contract c WHERE c.id IN %s "
                "ORDER BY c.id FOR NO KEY UPDATE OF c",
                _has_dated_blocks(SQL.identifier("c", "id")),
                tuple(self.ids),
            )
        )
        dated = {
            contract_id
            for contract_id, has_dated in self.env.cr.fetchall()
            if has_dated
        }
        if bump:
            self.env.cr.execute(
                SQL(
                    "UPDATE retainer_contract SET ledger_version = ledger_version + 1 "
                    "WHERE id IN %s",
                    tuple(self.ids),
                )
            )
            self.invalidate_recordset(["ledger_version"])
        return dated

    def _lock_for_usage(self):
        """Take the posting lock of :meth:`_lock_for_posting` (never bumped)
        on the contracts of ``self`` before time is saved on them, and read
        in the same query what the save reads of them and of their levels:
        a timesheet saved on a retainer costs the lock and the ledger insert,
        not a read of each beside.

        The contracts are read as ``fetch()`` reads them for the user
        (access rules, fields of the user's groups, the values put in cache
        without overwriting), so the save's access checks are the same as
        when the ORM read them on first use.

        :returns: ``{contract id: whether it has dated blocks}`` of the
            contracts locked; give it to ``retainer.ledger.entry._post``
            (``locked``) so that it does not lock them again.
        :raises AccessError: a contract the user may not read.
        """
        if not self:
            return {}
        self.env["retainer.ledger.entry"].flush_model()
        contract_names, level_names, columns = self._retainer_usage_columns()
        query = self.with_context(active_test=False)._search([("id", "in", self.ids)])
        query.add_join(
            "LEFT JOIN",
            USAGE_LEVEL_ALIAS,
            "retainer_level",
            SQL(
                "%s = %s",
                SQL.identifier(USAGE_LEVEL_ALIAS, "id"),
                SQL.identifier(self._table, "level_id"),
            ),
        )
        Level = self.env["retainer.level"]
        level_id = SQL.identifier(USAGE_LEVEL_ALIAS, "id")
        if not self.env.su:
            # The level's id where the user may read it, else none: the ORM
            # reads it on first use and raises as it did.
            level_id = SQL(
                "CASE WHEN %s IN %s THEN %s END",
                level_id,
                Level.with_context(active_test=False)._search([]).subselect(),
                level_id,
            )
        rows = self.env.execute_query(
            SQL(
                "SELECT %s, %s, %s, %s FROM %s WHERE %s ORDER BY %s "
                "FOR NO KEY UPDATE OF %s",
                SQL.identifier(self._table, "id"),
                _has_dated_blocks(SQL.identifier(self._table, "id")),
                level_id,
                columns,
                query.from_clause,
                query.where_clause,
                SQL.identifier(self._table, "id"),
                SQL.identifier(self._table),
            )
        )
        fetched = self.browse([row[0] for row in rows])
        if fetched != self:
            forbidden = (self - fetched).exists()
            if forbidden:
                raise self.env["ir.rule"]._make_access_error("read", forbidden)
        if not rows:
            return {}
        # Values as fetch() caches them: one tuple per column.
        values = list(zip(*rows, strict=True))
        cache = self.env.cache
        split = 3 + len(contract_names)
        for name, column in zip(contract_names, values[3:split], strict=True):
            cache.insert_missing(fetched, self._fields[name], column)
        level_rows = {row[2]: row[split:] for row in rows if row[2]}
        if level_rows:
            levels = Level.browse(level_rows)
            level_values = zip(*level_rows.values(), strict=True)
            for name, column in zip(level_names, level_values, strict=True):
                cache.insert_missing(levels, Level._fields[name], column)
        return {row[0]: row[1] for row in rows}

    @tools.ormcache("self.env.uid", "self.env.su")
    def _retainer_usage_columns(self):
        """What :meth:`_lock_for_usage` reads: ``(contract field names,
        level field names, their columns as SQL)``, the fields a first use
        of a contract or a level fetches for this user (those of the default
        prefetch group the user's groups may read, see
        ``BaseModel._fetch_field``); composed once per user, not per save."""
        Level = self.env["retainer.level"]
        contract_names = _prefetched_columns(self)
        level_names = _prefetched_columns(Level)
        columns = SQL(", ").join(
            [
                *(SQL.identifier(self._table, name) for name in contract_names),
                *(SQL.identifier(USAGE_LEVEL_ALIAS, name) for name in level_names),
            ]
        )
        return contract_names, level_names, columns

    def _retainer_posting_plan(self, vals_list):
        """What a posting of ``vals_list`` on ``self`` needs: the net units
        per contract, which contracts lose units and which get dated blocks
        (their overdraft and expiries are replayed; the posting adds those
        that had some already, see :meth:`_lock_for_posting`)."""
        delta = defaultdict(int)
        lowering = set()
        for vals in vals_list:
            delta[vals["contract_id"]] += vals["units"]
            if vals["units"] < 0:
                lowering.add(vals["contract_id"])
        dated = {vals["contract_id"] for vals in vals_list if vals.get("expiry_date")}
        return {"delta": dict(delta), "lowering": lowering, "dated": dated}

    def _retainer_after_posting(self, entries, plan, apply_overdraft_policy=True):
        """Second half of a posting, under the lock: correct the expiries of
        blocks the posting changed, then apply the overdraft policy and the
        balance rules (``_retainer_balance_changed``).

        Whatever the number of retainers and entries, this costs a constant
        number of queries (plus the emails and orders of the retainers that
        cross a threshold): the balances the rules need are read once, with
        ``_retainer_current_balances``.
        """
        Ledger = self.env["retainer.ledger.entry"]
        replays = {}
        # Units the posting moved per contract, its expiry corrections
        # included: the balance before it is the balance now minus these.
        deltas = defaultdict(int, plan["delta"])
        # Units posted since the replays were read (expiry corrections).
        since_replay = defaultdict(int)
        if plan["dated"]:
            replays = Ledger._retainer_current_replay(sorted(plan["dated"]))
            for _round in range(MAX_CORRECTION_ROUNDS):
                processed = self.filtered(
                    lambda c, r=replays: c.id in r and r[c.id].processed
                )
                before = dict(deltas)
                if not processed or not processed._retainer_reconcile_expiries(
                    replays, job=False, deltas=deltas
                ):
                    for cid, units in deltas.items():
                        since_replay[cid] = units - before.get(cid, 0)
                    break
                replays = Ledger._retainer_current_replay(sorted(plan["dated"]))
        policed = self._retainer_overdraft_policed(plan, apply_overdraft_policy)
        watched = self._retainer_balance_watched(deltas)
        # The replays know their balances (the ledgers as they were read),
        # the other ones are read.
        balances = {
            cid: replay.balance + since_replay[cid] for cid, replay in replays.items()
        }
        needed = (policed | watched).filtered(lambda c: c.id not in replays)
        if needed:
            balances.update(
                Ledger._retainer_current_balances(
                    needed.ids, fresh=plan.get("fresh", ())
                )
            )
        self._retainer_apply_overdraft_policy(
            entries, plan, replays, apply_overdraft_policy, balances=balances
        )
        watched._retainer_balance_changed(deltas, balances)

    def _retainer_balance_watched(self, deltas):
        """Hook: the contracts of ``self`` that a balance rule may act on
        after a posting of ``deltas`` (contract id -> units moved): only
        their balances need reading. A feature with a rule of its own
        (the automatic top-up) extends it with ``super()`` and adds its
        contracts; see ``_retainer_balance_changed``."""
        return self._retainer_low_balance_watched(deltas)

    def _retainer_balance_changed(self, deltas, balances):
        """Hook: apply the rules that follow the balance to the contracts of
        ``self`` after a posting of ``deltas``, under its lock. Every
        posting path calls it (``_retainer_after_posting``, the expiry
        job); the core's rule is the low balance alert, and a feature adds
        its own by extending this method and ``_retainer_balance_watched``
        with ``super()``.

        :param dict deltas: contract id -> units the posting moved.
        :param dict balances: contract id -> balance now, for the contracts
            ``_retainer_balance_watched`` returns.
        """
        low_balance = self._retainer_low_balance_watched(deltas)
        low_balance._retainer_update_low_balance_notice(deltas, balances)

    def _retainer_overdraft_units(self, replays, balances=None):
        """Units of work no block pays for now, per contract of ``self``:
        from ``replays`` for contracts with dated blocks, else the current
        balance below zero (contracts locked by this transaction; read
        unless ``balances`` gives them)."""
        Ledger = self.env["retainer.ledger.entry"]
        plain = self.filtered(lambda c: c.id not in replays)
        if balances is None:
            balances = Ledger._retainer_current_balances(plain.ids) if plain else {}
        result = {}
        for contract in self:
            if contract.id in replays:
                result[contract.id] = replays[contract.id].allocation.overdraft
            else:
                result[contract.id] = max(-balances.get(contract.id, 0), 0)
        return result

    def _retainer_overdraft_policed(self, plan, enforce=True):
        """The contracts of ``self`` the overdraft policy looks at after a
        posting of ``plan``: those it may refuse or warn about, and those
        whose overdraft notification may be cleared."""
        return self.filtered(
            lambda c: (
                (c.overdraft_policy == "block" and c.id in plan["lowering"] and enforce)
                or (c.overdraft_policy == "warn" and c.id in plan["lowering"])
                or c.overdraft_notified
            )
        )

    def _retainer_apply_overdraft_policy(
        self, entries, plan, replays, enforce=True, balances=None
    ):
        """Refuse a posting that overdraws a ``block`` retainer (unless
        ``enforce`` is False) and notify the first overdraft of a ``warn``
        one; clear the notification when the overdraft is covered.

        :param balances: current balances of the contracts without dated
            blocks, when already read (see ``_retainer_overdraft_units``).
        :raises UserError: for a ``block`` retainer the posting overdraws.
        """
        policed = self._retainer_overdraft_policed(plan, enforce)
        if not policed:
            return
        after = policed._retainer_overdraft_units(replays, balances)
        blocked = policed.filtered(
            lambda c: c.overdraft_policy == "block" and after[c.id] and enforce
        )
        if blocked:
            before_replays = self.env["retainer.ledger.entry"]._retainer_current_replay(
                [c.id for c in blocked if c.id in replays], exclude_ids=entries.ids
            )
            for contract in blocked:
                if contract.id in replays:
                    replay = before_replays.get(contract.id)
                    before = replay.allocation.overdraft if replay else 0
                    available = replay.balance if replay else 0
                else:
                    available = -after[contract.id] - plan["delta"][contract.id]
                    before = max(-available, 0)
                if after[contract.id] > before:
                    raise UserError(
                        self.env._(
                            "Retainer %(retainer)s has %(balance)s left and this "
                            "time needs %(needed)s. Ask the customer for a top-up, "
                            "or a retainer manager can change its overdraft policy.",
                            retainer=contract.name,
                            balance=contract._format_units(max(available, 0)),
                            needed=contract._format_units(
                                max(-plan["delta"][contract.id], 0)
                            ),
                        )
                    )
        policed._retainer_update_overdraft_notice(after)

    def _retainer_update_overdraft_notice(self, overdraft):
        """Notify the first overdraft of each warned retainer of ``self``
        and clear the marker of those no longer overdrawn.

        :param dict overdraft: contract id -> units of work unpaid.
        """
        for contract in self:
            overdrawn = overdraft[contract.id]
            if overdrawn and not contract.overdraft_notified:
                if contract.overdraft_policy == "warn":
                    contract._retainer_notify_overdraft(-overdrawn)
                    # sudo: the marker belongs to the posting, not to the
                    # user, who may only read the retainer.
                    with server_values():
                        contract.sudo().overdraft_notified = True
            elif not overdrawn and contract.overdraft_notified:
                # sudo: as above.
                with server_values():
                    contract.sudo().overdraft_notified = False

    def _retainer_notify_overdraft(self, balance):
        """Tell the account manager (a note and an activity) and the
        customer's contacts (an email) that the retainer is overdrawn by
        ``-balance`` units of work no block pays for."""
        self.ensure_one()
        message = self.env._(
            "Retainer %(retainer)s of %(customer)s is overdrawn: balance %(balance)s.",
            retainer=self.name,
            customer=self.partner_id.display_name,
            balance=self._format_units(balance),
        )
        # sudo: whoever logged the time may only read the contract; the note
        # and the manager's activity are the system's reaction, not an edit.
        contract_sudo = self.sudo()
        contract_sudo.message_post(body=message, subtype_xmlid="mail.mt_note")
        self._schedule_manager_todo(self.env._("Retainer overdrawn"), message)
        self._retainer_post_customer_mail(
            "defining_retainer.mail_template_retainer_overdraft",
            "alert",
            render_values=self._retainer_units_values(-balance),
        )

    # -------------------------------------------------------------------------
    # BLOCKS, EXPIRY AND ROLLOVER
    # -------------------------------------------------------------------------
    # Blocks on the retainer: expiring units, rollover settings and the
    # expiry job (see tools/allocation.py for the consumption order).

    # Never read by a posting: in a prefetch group of its own, out of the
    # contract row every timesheet save reads (see README, Performance).
    rollover_max_units = fields.Integer(
        string="Rollover (max units)",
        tracking=True,
        default=lambda self: self.env.company.retainer_rollover_max_units,
        help="When a block expires, up to this many of its unused units move "
        "into a new block. 0: nothing rolls over.",
        prefetch="retainer_rollover",
    )

    rollover_validity_months = fields.Integer(
        string="Rolled units valid (months)",
        tracking=True,
        default=lambda self: self.env.company.retainer_rollover_validity_months,
        help="A rolled-over block expires this many months after the block it "
        "comes from. 0: it never expires.",
        prefetch="retainer_rollover",
    )

    block_ids = fields.One2many(
        "retainer.ledger.entry",
        "contract_id",
        string="Blocks",
        domain=[("is_block", "=", True)],
        readonly=True,
    )

    expiring_units = fields.Integer(
        compute="_compute_expiry_figures",
        search="_search_expiring_units",
        help=f"Remaining units of blocks that expire in the next "
        f"{EXPIRING_SOON_DAYS} days.",
    )

    next_expiry_date = fields.Date(
        compute="_compute_expiry_figures",
        help="The next date on which a block with remaining units expires.",
    )

    def _compute_expiry_figures(self):
        today = fields.Date.context_today(self)
        horizon = today + timedelta(days=EXPIRING_SOON_DAYS)
        replays = self.env["retainer.ledger.entry"]._retainer_replay(self._origin.ids)
        for contract in self:
            replay = replays.get(contract._origin.id)
            expiring = 0
            next_date = False
            for block_id, block in (replay.blocks if replay else {}).items():
                if not block.expiry_date or block.expiry_date < today:
                    continue
                remaining = replay.remaining(block_id)
                if not remaining:
                    continue
                if block.expiry_date <= horizon:
                    expiring += remaining
                if not next_date or block.expiry_date < next_date:
                    next_date = block.expiry_date
            contract.expiring_units = expiring
            contract.next_expiry_date = next_date

    def _search_expiring_units(self, operator, value):
        if operator not in ("=", "!=", ">", ">=", "<", "<=") or not isinstance(
            value, int
        ):
            raise UserError(self.env._("Unsupported search on expiring units."))
        today = fields.Date.context_today(self)
        horizon = today + timedelta(days=EXPIRING_SOON_DAYS)
        # Only retainers with a live block expiring soon can have expiring
        # units; their figures are replayed in one query.
        Ledger = self.env["retainer.ledger.entry"]
        candidates = Ledger.search(
            [
                ("kind", "=", "credit"),
                ("expiry_date", ">=", today),
                ("expiry_date", "<=", horizon),
                ("reversal_entry_ids", "=", False),
            ]
        ).contract_id
        matching = candidates.filtered(
            lambda c: _compare(c.expiring_units, operator, value)
        )
        if _compare(0, operator, value):
            return [("id", "not in", (candidates - matching).ids)]
        return [("id", "in", matching.ids)]

    @api.constrains("rollover_max_units", "rollover_validity_months")
    def _check_rollover(self):
        for contract in self:
            if contract.rollover_max_units < 0 or contract.rollover_validity_months < 0:
                raise ValidationError(
                    self.env._(
                        "Retainer %(name)s: the rollover units and months cannot "
                        "be negative.",
                        name=contract.name,
                    )
                )

    def _retainer_reconcile_expiries(self, replays, job=True, deltas=None):
        """Bring the expiries (and rollovers) of the expired blocks of
        ``self`` in line with ``replays``; post what differs and return True
        when a rollover block changed (the allocation must be replayed).

        :param bool job: the expiry job (every live block past its expiry
            date); else a posting's correction (only blocks already
            expired by the job: time logged late on them, or a reversal).
        :param dict deltas: when given, the units posted are added to it,
            per contract id (the balance before is the balance now minus
            them: see the low balance alert).
        """
        Ledger = self.env["retainer.ledger.entry"]
        today = fields.Date.context_today(self)
        reverse = Ledger
        new_vals = []
        rollover_changed = False
        block_ids_by_contract = {}
        for contract in self:
            replay = replays.get(contract.id)
            if not replay:
                continue
            block_ids = set(replay.processed)
            if job:
                block_ids |= {
                    block_id
                    for block_id, block in replay.blocks.items()
                    if block.expiry_date and block.expiry_date < today
                }
            # Only blocks whose expiry or rollover differs from the replay
            # are read: a posting looks at every block already expired, and
            # leaves nearly all of them as they are.
            block_ids_by_contract[contract] = sorted(
                block_id
                for block_id in block_ids
                if contract._retainer_expiry_differs(replay, block_id)
            )
        # The blocks, expiries and rollovers of the whole batch are read
        # together (one query per prefetch batch), not one block at a time.
        prefetch_ids = set()
        for contract, block_ids in block_ids_by_contract.items():
            replay = replays[contract.id]
            for block_id in block_ids:
                prefetch_ids.add(block_id)
                prefetch_ids.update(replay.live_expiries.get(block_id, ()))
                prefetch_ids.update(replay.live_rollovers.get(block_id, ()))
        prefetch_ids = tuple(prefetch_ids)
        for contract, block_ids in block_ids_by_contract.items():
            replay = replays[contract.id]
            for block_id in block_ids:
                block = Ledger.browse(block_id).with_prefetch(prefetch_ids)
                expired = replay.unexpired_target(block_id)
                to_reverse, vals = Ledger._reconcile_plan(
                    Ledger.browse(replay.live_expiries.get(block_id, [])).with_prefetch(
                        prefetch_ids
                    ),
                    -expired,
                    lambda units, c=contract, b=block: c._retainer_prepare_expiry_vals(
                        b, units
                    ),
                )
                reverse |= to_reverse
                new_vals += vals
                rolled = 0
                if block_id not in replay.rollovers and contract.rollover_max_units:
                    rolled = min(expired, contract.rollover_max_units)
                to_reverse, vals = Ledger._reconcile_plan(
                    Ledger.browse(
                        replay.live_rollovers.get(block_id, [])
                    ).with_prefetch(prefetch_ids),
                    rolled,
                    lambda units, c=contract, b=block: (
                        c._retainer_prepare_rollover_vals(b, units)
                    ),
                )
                rollover_changed |= bool(to_reverse or vals)
                reverse |= to_reverse
                new_vals += vals
        if deltas is not None:
            for vals in new_vals:
                deltas[vals["contract_id"]] += vals["units"]
            for entry in reverse:
                deltas[entry.contract_id.id] -= entry.units
        Ledger._post_expiry_corrections(
            new_vals, reverse=reverse, reason=self.env._("Block expiry corrected")
        )
        return rollover_changed

    def _retainer_expiry_differs(self, replay, block_id):
        """Whether the live expiries or rollovers of ``block_id`` differ from
        what ``replay`` says they should be (see
        :meth:`_retainer_reconcile_expiries`, which posts nothing for a
        block where they are the same)."""
        self.ensure_one()
        expired = replay.unexpired_target(block_id)
        if replay.expired.get(block_id, 0) != expired:
            return True
        rolled = 0
        if block_id not in replay.rollovers and self.rollover_max_units:
            rolled = min(expired, self.rollover_max_units)
        live_rolled = sum(
            replay.blocks[rollover_id].units
            for rollover_id in replay.live_rollovers.get(block_id, ())
        )
        return live_rolled != rolled

    def _retainer_expiry_posting_date(self, expiry_date):
        """Date of an expiry entry: the block's expiry date, or the first
        day after the usage lock date when that period is closed."""
        self.ensure_one()
        if self.usage_lock_date and expiry_date <= self.usage_lock_date:
            return self.usage_lock_date + timedelta(days=1)
        return expiry_date

    def _retainer_prepare_expiry_vals(self, block, units):
        self.ensure_one()
        return {
            "contract_id": self.id,
            "kind": "expiry",
            "units": units,
            "block_entry_id": block.id,
            "date": self._retainer_expiry_posting_date(block.expiry_date),
            "name": self.env._(
                "Expiry of %(block)s (expired %(date)s)",
                block=block._retainer_block_label(),
                date=format_date(self.env, block.expiry_date),
            ),
        }

    def _retainer_prepare_rollover_vals(self, block, units):
        self.ensure_one()
        date = self._retainer_expiry_posting_date(block.expiry_date + timedelta(days=1))
        months = self.rollover_validity_months
        return {
            "contract_id": self.id,
            "kind": "credit",
            "units": units,
            "block_entry_id": block.id,
            "topup_origin": "rollover",
            "date": date,
            "expiry_date": (
                block.expiry_date + relativedelta(months=months) if months else False
            ),
            "name": self.env._(
                "Rollover of %(block)s", block=block._retainer_block_label()
            ),
            "reason": self.env._(
                "%(units)s unused units of block %(block)s (dated %(date)s, "
                "expired %(expiry)s) rolled over.",
                units=units,
                block=block._retainer_block_label(),
                date=format_date(self.env, block.date),
                expiry=format_date(self.env, block.expiry_date),
            ),
        }

    @api.model
    def _retainer_expire_blocks(self, companies=None, batch_size=200):
        """Post the expiry (and rollover) of every block past its expiry
        date that still has units, for the retainers of ``companies``
        (default: every company the user may access). Idempotent: a block
        is expired once; a second run, or two running at once, post
        nothing more (the second waits for the first and then finds the
        blocks expired, or fails and is retried).

        :raises AccessError: for a company the user cannot access.
        :return: the number of contracts handled
        """
        if companies is None and self.env.su:
            company_filter = SQL("TRUE")  # the scheduled job: every company
        else:
            if companies is None:
                companies = self.env.user.company_ids
            forbidden = companies - self.env.user.company_ids
            if forbidden and not self.env.su:
                raise AccessError(
                    self.env._(
                        "You cannot expire the retainer blocks of %(company)s.",
                        company=forbidden[0].name,
                    )
                )
            if not companies:
                return 0
            company_filter = SQL("c.company_id IN %s", tuple(companies.ids))
        today = fields.Date.context_today(self)
        Ledger = self.env["retainer.ledger.entry"]
        Ledger.flush_model()
        # Live blocks past their expiry that no run has handled yet.
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT b.contract_id FROM retainer_ledger_entry b "
                "JOIN retainer_contract c ON c.id = b.contract_id "
                "WHERE b.kind = 'credit' AND b.expiry_date < %s AND %s "
                "AND NOT EXISTS (SELECT 1 FROM retainer_ledger_entry r "
                "WHERE r.reversed_entry_id = b.id) "
                "AND NOT EXISTS (SELECT 1 FROM retainer_ledger_entry x "
                "WHERE x.block_entry_id = b.id) ORDER BY b.contract_id",
                today,
                company_filter,
            )
        )
        contract_ids = [row[0] for row in self.env.cr.fetchall()]
        for batch in split_every(batch_size, contract_ids, self.browse):
            batch._lock_for_posting(bump=True)
            replays = Ledger._retainer_current_replay(batch.ids)
            deltas = defaultdict(int)
            for _round in range(MAX_CORRECTION_ROUNDS):
                if not batch._retainer_reconcile_expiries(
                    replays, job=True, deltas=deltas
                ):
                    break
                replays = Ledger._retainer_current_replay(batch.ids)
            # Expired units lower the balance: the balance rules apply.
            watched = batch._retainer_balance_watched(deltas)
            if watched:
                watched._retainer_balance_changed(
                    deltas, Ledger._retainer_current_balances(watched.ids)
                )
        return len(contract_ids)

    @api.model
    def _cron_expire_blocks(self):
        """Scheduled job (daily): expire the blocks past their expiry date,
        then refresh the stored urgency of the retainers (run-out date and
        expiring units move with the date)."""
        expired = self._retainer_expire_blocks()
        self._cron_refresh_urgency()
        return expired

    # -------------------------------------------------------------------------
    # BALANCE OVER TIME AND FORECAST
    # -------------------------------------------------------------------------
    # What staff read on a retainer besides its ledger: its forecast, its
    # balance over time and the analysis of its usage.

    forecast_status = fields.Selection(
        FORECAST_STATUS_SELECTION, compute="_compute_forecast"
    )

    forecast_date = fields.Date(
        string="Runs out on",
        compute="_compute_forecast",
        help="When the balance runs out at the average net use of the last 90 days.",
    )

    def _compute_forecast(self):
        forecasts = self._origin._retainer_forecasts() if self._origin else {}
        for contract in self:
            forecast = forecasts.get(contract._origin.id)
            contract.forecast_status = forecast.status if forecast else False
            contract.forecast_date = forecast.depletion_date if forecast else False

    # The same figures, stored so that lists sort by them. A timesheet
    # saved costs no query more: they are refreshed by the daily expiry job
    # (usage moves the forecast day by day) and whenever a posting changes
    # blocks or the balance otherwise (a credit, an adjustment, a reversal
    # of one); the form, the kanban card and the portal read the live ones.
    urgency_forecast_date = fields.Date(
        string="Runs out",
        readonly=True,
        copy=False,
        help="When the balance runs out at the average net use of the last 90 "
        "days, as of the last refresh (daily, and when blocks change).",
    )
    urgency_expiring_units = fields.Integer(
        string="Expiring (30 days)",
        readonly=True,
        copy=False,
        help=f"Remaining units of blocks that expire in the next "
        f"{EXPIRING_SOON_DAYS} days, as of the last refresh (daily, and when "
        f"blocks change).",
    )

    def _retainer_refresh_urgency(self, batch_size=1000):
        """Store the run-out date and the expiring units of these
        retainers (the live ``forecast_date`` and ``expiring_units``),
        writing only those that changed, grouped by value."""
        # sudo: whoever posts a credit (a salesperson, a customer's payment)
        # refreshes figures of the whole ledger; only these two are written.
        contracts = self.sudo()
        for batch in split_every(batch_size, contracts.ids, contracts.browse):
            batch.invalidate_recordset(["expiring_units", "next_expiry_date"])
            forecasts = batch._retainer_forecasts()
            changed = defaultdict(list)
            for contract in batch:
                forecast = forecasts.get(contract.id)
                date = (
                    forecast.depletion_date
                    if forecast and forecast.status == forecast_tools.STATUS_FORECAST
                    else False
                )
                values = (date, contract.expiring_units)
                if values != (
                    contract.urgency_forecast_date,
                    contract.urgency_expiring_units,
                ):
                    changed[values].append(contract.id)
            # Never leave figures computed now in the cache: time logged
            # later in the transaction changes them without invalidating.
            batch.invalidate_recordset(["expiring_units", "next_expiry_date"])
            for (date, expiring), ids in changed.items():
                with server_values():
                    contracts.browse(ids).write(
                        {
                            "urgency_forecast_date": date,
                            "urgency_expiring_units": expiring,
                        }
                    )

    @api.model
    def _cron_refresh_urgency(self):
        """Refresh the stored urgency of every open retainer, and clear it on
        the others that still have one."""
        self.with_context(active_test=False).search(
            [
                "|",
                ("state", "!=", "closed"),
                "|",
                ("urgency_forecast_date", "!=", False),
                ("urgency_expiring_units", "!=", 0),
            ]
        )._retainer_refresh_urgency()

    def action_view_balance_graph(self):
        """The balance of this retainer over time: its units cumulated."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_ledger_entry_action_balance"
        )
        action.update(
            domain=[("contract_id", "=", self.id)],
            context={"default_contract_id": self.id},
            display_name=self.env._("Balance of %(name)s", name=self.name),
        )
        return action

    def action_view_usage(self):
        """The usage of this retainer by month and consultant."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_usage_report_action"
        )
        action.update(
            domain=[("contract_id", "=", self.id)],
            context={"search_default_groupby_employee": 1},
            display_name=self.env._("Usage of %(name)s", name=self.name),
        )
        return action

    # -------------------------------------------------------------------------
    # CUSTOMER EMAILS: CONTACTS, ALERTS AND STATEMENTS
    # -------------------------------------------------------------------------
    # Who hears about a retainer: the customer contacts that get its emails
    # (alerts, statements), the ones who switched a kind off, and the one path
    # every customer email of the retainer takes.

    notify_partner_ids = fields.Many2many(
        "res.partner",
        "retainer_contract_notify_partner_rel",
        "contract_id",
        "partner_id",
        string="Notified contacts",
        compute="_compute_notify_partner_ids",
        store=True,
        readonly=False,
        tracking=True,
        help="Customer contacts who receive this retainer's emails (balance "
        "alerts, expiry warnings, statements) and follow its conversation. "
        "Default: the customer's invoice address.",
    )

    alert_optout_partner_ids = fields.Many2many(
        "res.partner",
        "retainer_contract_alert_optout_rel",
        "contract_id",
        "partner_id",
        string="No alert emails",
        help="Contacts who switched off balance, overdraft and expiry emails "
        "for this retainer (from the portal or here).",
    )

    statement_optout_partner_ids = fields.Many2many(
        "res.partner",
        "retainer_contract_statement_optout_rel",
        "contract_id",
        "partner_id",
        string="No statement emails",
        help="Contacts who switched off statement emails for this retainer.",
    )

    @api.depends("partner_id")
    def _compute_notify_partner_ids(self):
        for contract in self:
            partner = contract.partner_id
            if not partner:
                contract.notify_partner_ids = False
                continue
            invoice_id = partner.address_get(["invoice"])["invoice"]
            contract.notify_partner_ids = partner.browse(invoice_id) or partner

    @api.constrains("partner_id", "notify_partner_ids")
    def _check_notify_partners_of_the_customer(self):
        self._retainer_check_contacts_of_the_customer("notify_partner_ids")

    @api.constrains("alert_optout_partner_ids", "statement_optout_partner_ids")
    def _check_optout_partners_of_the_customer(self):
        self._retainer_check_contacts_of_the_customer(
            "alert_optout_partner_ids", "statement_optout_partner_ids"
        )

    def _retainer_check_contacts_of_the_customer(self, *field_names):
        """Refuse contacts of another customer in ``field_names``: a
        notified contact gets the retainer's statements and alerts and
        follows its conversation.

        :raises ValidationError:
        """
        for contract in self:
            contacts = contract.env["res.partner"].union(
                *(contract[name] for name in field_names)
            )
            strangers = contacts - contract._retainer_contacts_of_the_customer(contacts)
            if strangers:
                raise ValidationError(
                    self.env._(
                        "%(contacts)s cannot get the emails of retainer "
                        "%(retainer)s: not a contact of %(customer)s.",
                        contacts=", ".join(strangers.mapped("display_name")),
                        retainer=contract.name,
                        customer=contract.partner_id.commercial_partner_id.display_name,
                    )
                )

    def _retainer_contacts_of_the_customer(self, partners):
        """The ``partners`` that belong to the customer of ``self`` (its
        commercial entity, as the portal's access rule)."""
        self.ensure_one()
        customer = self.partner_id.commercial_partner_id
        return partners.filtered(
            lambda partner: partner.commercial_partner_id == customer
        )

    def _retainer_subscribe_contacts(self):
        """Make the notified contacts followers (they get the replies of the
        retainer's conversation) and the account manager too."""
        for contract in self:
            partners = contract.notify_partner_ids | contract.user_id.partner_id
            if partners - contract.message_partner_ids:
                contract.message_subscribe(partner_ids=partners.ids)

    def _retainer_mail_recipients(self, kind):
        """Return ``(reachable, unreachable)`` of the contacts of ``self``
        who get emails of ``kind`` (see ``CUSTOMER_MAIL_KINDS``): the notified
        contacts but the ones who switched it off, split by whether they
        have an email address. A notified contact who no longer belongs to
        the customer (moved to another company) gets nothing
        (``_retainer_moved_contacts``)."""
        self.ensure_one()
        optout_field = CUSTOMER_MAIL_KINDS[kind][1]
        contacts = self._retainer_contacts_of_the_customer(
            self.notify_partner_ids - self[optout_field]
        )
        reachable = contacts.filtered("email")
        return reachable, contacts - reachable

    def _retainer_moved_contacts(self):
        """The notified contacts of ``self`` who no longer belong to its
        customer: they were its contacts when set, then moved."""
        self.ensure_one()
        return self.notify_partner_ids - self._retainer_contacts_of_the_customer(
            self.notify_partner_ids
        )

    def _retainer_post_customer_mail(
        self,
        template_xmlid,
        kind,
        render_values=None,
        attachment_ids=None,
        raise_on_failure=False,
    ):
        """Email ``self``'s contacts of ``kind`` the mail template
        ``template_xmlid`` rendered on the retainer, in its conversation,
        with the ``ir.attachment`` ids ``attachment_ids`` attached.

        The email is queued (sent by the mail queue after the transaction
        commits, retried the Odoo way), so a failing SMTP server never rolls
        back the posting that triggered it; a template that fails to render
        neither: it is undone alone (a savepoint), logged, and the account
        manager gets an activity. Contacts without an email address are
        named in an activity for the account manager.

        :param dict render_values: figures the template reads as
            ``ctx['retainer_mail_values']`` (mail templates render with the
            context, not with extra values).
        :param bool raise_on_failure: let a failing template raise (after
            undoing the email alone) instead of logging it: for a caller
            that must not record the email as sent (a statement, retried by
            the next run).
        :returns: the posted ``mail.message`` (empty when nobody gets it or
            the email failed).
        """
        self.ensure_one()
        reachable, unreachable = self._retainer_mail_recipients(kind)
        if unreachable:
            self._retainer_schedule_unreachable_activity(unreachable)
        moved = self._retainer_moved_contacts()
        if moved:
            self._retainer_schedule_moved_contacts_activity(moved)
        if not reachable:
            return self.env["mail.message"]
        template = self.env.ref(template_xmlid)
        # sudo: whoever triggered the email (a consultant logging time, the
        # scheduler) may only read the retainer; the email is the system's
        # reaction, sent from the company's address by the template.
        contract = self.sudo().with_context(
            mail_notify_force_send=False,
            retainer_mail_values=dict(render_values or {}),
        )
        try:
            with self.env.cr.savepoint():
                return contract.message_post_with_source(
                    template,
                    message_type="comment",
                    subtype_xmlid=CUSTOMER_MAIL_KINDS[kind][0],
                    partner_ids=reachable.ids,
                    **({"attachment_ids": attachment_ids} if attachment_ids else {}),
                )
        except psycopg2.Error:
            # A concurrency error (the whole transaction is retried) or a
            # broken constraint: never taken for a failed email.
            raise
        except Exception as error:
            if raise_on_failure:
                raise
            # The posting that triggered the email must stand: say it failed.
            _logger.exception(
                "Retainer %s: email %s could not be prepared", self.name, template_xmlid
            )
            self._retainer_schedule_mail_failure_activity(template, error)
            return self.env["mail.message"]

    def _retainer_schedule_statement_failure_activity(self, date_from, date_to, error):
        """Tell the account manager that the statement of a period could not
        be sent (once: the daily run tries again until it is)."""
        self._schedule_manager_todo(
            self.env._("Statement not sent"),
            self.env._(
                "The statement of %(date_from)s - %(date_to)s of retainer "
                "%(retainer)s could not be sent (%(error)s): check the statement "
                "mail template and report. The daily job tries again.",
                date_from=date_from,
                date_to=date_to,
                retainer=self.name,
                error=str(error) or type(error).__name__,
            ),
            once=True,
        )

    def _retainer_schedule_mail_failure_activity(self, template, error):
        self._schedule_manager_todo(
            self.env._("Customer email not sent"),
            self.env._(
                'The email "%(template)s" of retainer %(retainer)s could not be '
                "prepared (%(error)s): check the mail template, then tell the "
                "customer.",
                template=template.name,
                retainer=self.name,
                error=str(error) or type(error).__name__,
            ),
        )

    def _retainer_schedule_moved_contacts_activity(self, partners):
        """Tell the account manager that notified contacts who moved to
        another customer were left out (once, until the activity is done)."""
        self._schedule_manager_todo(
            self.env._("Contacts no longer with the customer"),
            self.env._(
                "%(contacts)s no longer belong to %(customer)s and were not "
                "emailed about retainer %(retainer)s: remove them from its "
                "notified contacts.",
                contacts=", ".join(partners.mapped("display_name")),
                customer=self.partner_id.commercial_partner_id.display_name,
                retainer=self.name,
            ),
            once=True,
        )

    def _retainer_schedule_unreachable_activity(self, partners):
        self._schedule_manager_todo(
            self.env._("Contacts without email address"),
            self.env._(
                "Could not email %(contacts)s about retainer %(retainer)s: "
                "no email address.",
                contacts=", ".join(partners.mapped("display_name")),
                retainer=self.name,
            ),
        )

    def _schedule_manager_todo(self, summary, note, once=False):
        """Give this retainer's account manager a to-do ``summary`` with
        ``note`` (none without an account manager); with ``once``, not while
        one of the same summary is still open."""
        self.ensure_one()
        if not self.user_id:
            return
        # sudo: the postings and scheduled jobs that report here run for
        # users who may only read the retainer (or none); the activity is
        # the system's report to its manager, not a user's edit.
        contract_sudo = self.sudo()
        if once and contract_sudo.activity_ids.filtered(
            lambda activity: activity.summary == summary
        ):
            return
        contract_sudo.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=note,
            user_id=self.user_id.id,
        )

    # -------------------------------------------------------------------------
    # ALERTS: LOW BALANCE AND EXPIRING UNITS
    # -------------------------------------------------------------------------

    low_balance_units = fields.Integer(
        string="Low balance alert (units)",
        tracking=True,
        default=lambda self: self.env.company.retainer_low_balance_units,
        help="When a posting takes the balance from above this many units to "
        "this or fewer, the notified contacts get one email and the account "
        "manager an activity; again only after the balance went back above "
        "it. 0: no alert.",
    )

    # Set when the low balance alert was sent, cleared when the balance is
    # back above the threshold: one alert per crossing, whoever posts.
    low_balance_notified = fields.Boolean(
        string="Low balance alert sent",
        readonly=True,
        copy=False,
        groups="base.group_user",
    )

    expiry_warning_ids = fields.One2many(
        "retainer.expiry.warning",
        "contract_id",
        readonly=True,
        groups="base.group_user",
    )

    @api.constrains("low_balance_units")
    def _check_low_balance_units(self):
        for contract in self:
            if contract.low_balance_units < 0:
                raise ValidationError(
                    self.env._(
                        "Retainer %(name)s: the low balance alert cannot be "
                        "negative (0 switches it off).",
                        name=contract.name,
                    )
                )

    def _retainer_forecasts(self, today=None, balances=None):
        """Forecast, per contract of ``self``, when its balance runs out at
        the average net use of the last ``forecast.WINDOW_DAYS`` days
        (debits minus their reversals), in one grouped query.

        :param datetime.date today: last day of the window (default: today
            in the user's timezone).
        :param dict balances: contract id -> balance in units, when known
            (default: ``balance_units``).
        :returns: ``{contract id: forecast.Forecast}``
        """
        today = today or fields.Date.context_today(self)
        used = dict(
            self.env["retainer.ledger.entry"]._read_group(
                [
                    ("contract_id", "in", self.ids),
                    ("date", ">=", forecast_tools.window_start(today)),
                    ("date", "<=", today),
                    ("effective_kind", "=", "debit"),
                ],
                ["contract_id"],
                ["units:sum"],
            )
        )
        balances = balances or {}
        return {
            contract.id: forecast_tools.forecast_depletion(
                balances.get(contract.id, contract.balance_units),
                -(used.get(contract) or 0),
                today,
            )
            for contract in self
        }

    def _retainer_low_balance_watched(self, deltas):
        """The contracts of ``self`` whose low balance alert a posting of
        ``deltas`` (contract id -> units moved) may change: those it lowers
        that were not alerted yet, and those it raises that were."""
        return self.filtered(
            lambda c: (
                c.low_balance_units > 0
                and (
                    (deltas.get(c.id, 0) < 0 and not c.low_balance_notified)
                    or (deltas.get(c.id, 0) > 0 and c.low_balance_notified)
                )
            )
        )

    def _retainer_update_low_balance_notice(self, deltas, balances):
        """Alert the contracts of ``self`` that a posting of ``deltas``
        took from above their threshold to at or below it, and re-arm the
        alert of those back above it.

        :param dict deltas: contract id -> units the posting moved.
        :param dict balances: contract id -> balance now (under the lock).
        """
        alerted = rearmed = self.browse()
        for contract in self:
            after = balances.get(contract.id, 0)
            before = after - deltas.get(contract.id, 0)
            threshold = contract.low_balance_units
            if not contract.low_balance_notified and crosses_low_balance(
                before, after, threshold
            ):
                alerted |= contract
            elif contract.low_balance_notified and after > threshold:
                rearmed |= contract
        # sudo: the markers belong to the posting, not to the user, who may
        # only read the retainer.
        if rearmed:
            with server_values():
                rearmed.sudo().low_balance_notified = False
        if alerted:
            with server_values():
                alerted.sudo().low_balance_notified = True
            alerted._retainer_notify_low_balance(balances)

    def _retainer_notify_low_balance(self, balances):
        """Email the contacts of each contract of ``self`` and give its
        account manager an activity: the balance is low.

        A balance below zero of a ``warn`` retainer gets the overdraft email
        instead (sent by the overdraft policy), not both.
        """
        today = fields.Date.context_today(self)
        forecasts = self._retainer_forecasts(today=today, balances=balances)
        for contract in self:
            balance = balances.get(contract.id, 0)
            if balance < 0 and contract.overdraft_policy == "warn":
                continue
            forecast = forecasts[contract.id]
            working_days = (
                forecast_tools.working_days_until(today, forecast.depletion_date)
                if forecast.status == forecast_tools.STATUS_FORECAST
                else None
            )
            contract._retainer_post_customer_mail(
                TEMPLATE_LOW_BALANCE,
                "alert",
                render_values=contract._retainer_units_values(balance)
                | {
                    "threshold_units": contract.low_balance_units,
                    "working_days": working_days,
                    "depletion_date": forecast.depletion_date,
                },
            )
            contract._schedule_manager_todo(
                self.env._("Low balance"),
                contract._retainer_low_balance_text(balance, working_days),
            )

    def _retainer_low_balance_text(self, balance, working_days):
        """The account manager's line about a low balance, e.g. "Low
        balance: 6 units left, about 9 working days at the current pace"."""
        self.ensure_one()
        if working_days is None:
            return self.env._(
                "Low balance on %(retainer)s: %(units)s units left (no forecast: "
                "no recent usage, or none left).",
                retainer=self.name,
                units=balance,
            )
        return self.env._(
            "Low balance on %(retainer)s: %(units)s units left, about "
            "%(days)s working days at the current pace.",
            retainer=self.name,
            units=balance,
            days=working_days,
        )

    def _retainer_units_values(self, units):
        """Figures of ``units`` units the customer emails show: units, hours
        and days of this retainer."""
        self.ensure_one()
        hours = units_to_hours(units, self.rounding_unit_minutes)
        return {
            "units": units,
            "hours": hours,
            "days": hours / self.day_hours if self.day_hours else 0.0,
        }

    @api.model
    def _retainer_send_expiry_warnings(self, today=None):
        """Email, for every block with units left that expires soon, the
        warning due today (see ``tools.alerts.due_warning``): one email per
        block and warning, whatever the number of runs.

        :returns: the warnings sent (``retainer.expiry.warning``).
        """
        today = today or fields.Date.context_today(self)
        ExpiryWarning = self.env["retainer.expiry.warning"]
        companies = self.env["res.company"].search(
            [("retainer_expiry_warning_days", "not in", (False, ""))]
        )
        warning_days = {
            company.id: company._retainer_expiry_warning_days() for company in companies
        }
        horizon = max(
            (max(days, default=-1) for days in warning_days.values()), default=-1
        )
        if horizon < 0:
            return ExpiryWarning
        Ledger = self.env["retainer.ledger.entry"]
        blocks = Ledger.search(
            [
                ("kind", "=", "credit"),
                ("expiry_date", ">=", today),
                ("expiry_date", "<=", today + timedelta(days=horizon)),
                ("reversal_entry_ids", "=", False),
                ("contract_id.state", "in", ("active", "suspended")),
                ("company_id", "in", companies.ids),
            ],
            order="expiry_date, id",
        )
        if not blocks:
            return ExpiryWarning
        sent = {}
        for warning in ExpiryWarning.search([("block_entry_id", "in", blocks.ids)]):
            sent.setdefault(warning.block_entry_id.id, []).append(warning.warning_days)
        # One replay for the units left in every block.
        blocks.mapped("remaining_units")
        vals_list = []
        for block in blocks:
            if not block.remaining_units:
                continue
            days = due_warning(
                (block.expiry_date - today).days,
                warning_days.get(block.company_id.id, ()),
                sent.get(block.id, ()),
            )
            if days is not None:
                vals_list.append(
                    {
                        "contract_id": block.contract_id.id,
                        "block_entry_id": block.id,
                        "warning_days": days,
                        "expiry_date": block.expiry_date,
                        "units": block.remaining_units,
                    }
                )
        warnings = ExpiryWarning._insert_once(vals_list)
        for warning in warnings:
            contract = warning.contract_id
            contract._retainer_post_customer_mail(
                TEMPLATE_EXPIRY,
                "alert",
                render_values=contract._retainer_units_values(warning.units)
                | {
                    "expiry_date": warning.expiry_date,
                    "days_left": (warning.expiry_date - today).days,
                    "block_name": warning.block_entry_id.name,
                    "block_date": warning.block_entry_id.date,
                },
            )
        return warnings

    @api.model
    def _cron_send_expiry_warnings(self):
        """Scheduled job (daily): warn the customers of blocks about to
        expire."""
        return self._retainer_send_expiry_warnings()

    # Never read by a posting: in a prefetch group of its own, out of the
    # contract row every timesheet save reads (see README, Performance).
    statement_frequency = fields.Selection(
        STATEMENT_FREQUENCY_SELECTION,
        string="Statements by email",
        required=True,
        tracking=True,
        default=lambda self: self.env.company.retainer_statement_frequency,
        help="After each closed month or quarter, the statement of the period "
        "(PDF attached) is emailed to the notified contacts.",
        prefetch="retainer_statement",
    )

    statement_start_date = fields.Date(
        string="Statements from",
        compute="_compute_statement_start_date",
        store=True,
        readonly=False,
        copy=False,
        help="First day covered by the emailed statements. Set to the first "
        "day of the current period when statements are switched on or the "
        "retainer is activated, so no statements of past periods are sent; "
        "set it earlier to send them.",
        prefetch="retainer_statement",
    )

    statement_ids = fields.One2many(
        "retainer.statement", "contract_id", string="Statements", readonly=True
    )

    @api.depends("statement_frequency")
    def _compute_statement_start_date(self):
        """Switched on (or changed): from the current period, or the day
        after the last statement sent when that is later (no period twice,
        no statement of a period closed before the switch)."""
        today = fields.Date.context_today(self)
        last_sent = self._statement_last_sent()
        for contract in self:
            frequency = contract.statement_frequency
            if not frequency or frequency == "none":
                contract.statement_start_date = False
                continue
            start = period_start(today, frequency)
            last = last_sent.get(contract._origin.id)
            if last:
                start = max(start, last + timedelta(days=1))
            contract.statement_start_date = start

    def _statement_last_sent(self):
        """``{contract id: end of the last statement sent}`` (one query)."""
        contract_ids = [cid for cid in self._origin.ids if cid]
        if not contract_ids:
            return {}
        return {
            contract.id: date_to
            for contract, date_to in self.env["retainer.statement"]
            .sudo()  # sudo: dates only, to compute the retainers' own field
            ._read_group(
                [("contract_id", "in", contract_ids)], ["contract_id"], ["date_to:max"]
            )
        }

    def _statement_restart(self):
        """Move the statement start of ``self`` to the current period at the
        earliest."""
        today = fields.Date.context_today(self)
        for contract in self.filtered(
            lambda c: c.statement_frequency not in (False, "none")
        ):
            start = period_start(today, contract.statement_frequency)
            current = contract.statement_start_date
            if not current or current < start:
                contract.statement_start_date = start

    def _live_block_domain(self):
        """Domain of the blocks of ``self`` that count: credits (and positive
        adjustments) that are not cancelled (a cancelled credit is no block
        any more)."""
        return [
            ("contract_id", "in", self.ids),
            ("is_block", "=", True),
            ("reversal_entry_ids", "=", False),
        ]

    def _units_to_hours(self, units):
        """Hours (float) that ``units`` units of this contract make."""
        self.ensure_one()
        return units_to_hours(units, self.rounding_unit_minutes)

    def _retainer_balances_before(self, day):
        """``{contract id: units}``: the balance of each retainer of ``self``
        before ``day`` (the sum of its entries dated earlier); see
        :meth:`_retainer_ledger_sums`."""
        return {
            contract_id: sums["balance"]
            for contract_id, sums in self._retainer_ledger_sums(day).items()
        }

    def _retainer_ledger_sums(self, day=None):
        """``{contract id: {balance, credit, expiry, adjustment}}``: the
        balance of each retainer of ``self`` (before ``day`` when given: the
        sum of its entries dated earlier) and the sums of its credits,
        expiries and adjustments (reversals count as what they reverse),
        in one query that does not read the whole ledger: the balance is
        the one of its newest checkpoint, plus the entries posted after it
        (minus the entries dated from ``day`` on); the other sums read only
        the entries of those kinds, a few per block. Every entry counts, as
        the retainer's balance is the retainer's, whatever the user's rules
        show of its entries."""
        if not self:
            return {}
        self.env["retainer.ledger.entry"].flush_model(
            ["contract_id", "units", "date", "effective_kind"]
        )
        dated = (
            SQL(
                "COALESCE((SELECT SUM(l.units) FROM retainer_ledger_entry l "
                "WHERE l.contract_id = t.contract_id AND l.date >= %s), 0)",
                day,
            )
            if day
            else SQL("0")
        )
        rows = self.env.execute_query(
            SQL(
                "SELECT t.contract_id, COALESCE(c.balance, 0) "
                "+ COALESCE((SELECT SUM(l.units) FROM retainer_ledger_entry l "
                "WHERE (l.contract_id, l.id) > (t.contract_id, COALESCE(c.since, 0)) "
                "AND (l.contract_id, l.id) <= (t.contract_id, %(no_limit)s)), 0) "
                "- %(dated)s, k.credit, k.expiry, k.adjustment "
                "FROM unnest(%(ids)s::int[]) AS t(contract_id) "
                # The newest checkpoint, if of the current version (as the
                # replay reads it).
                "LEFT JOIN LATERAL (SELECT "
                "CASE WHEN (c.state->>'version')::int = %(version)s "
                "THEN c.entry_id ELSE 0 END AS since, "
                "CASE WHEN (c.state->>'version')::int = %(version)s "
                "THEN (c.state->>'balance')::int ELSE 0 END AS balance "
                "FROM retainer_ledger_checkpoint c "
                "WHERE c.contract_id = t.contract_id "
                "ORDER BY c.entry_id DESC LIMIT 1) c ON TRUE "
                "LEFT JOIN LATERAL (SELECT "
                "SUM(k.units) FILTER (WHERE k.effective_kind = 'credit') AS credit, "
                "SUM(k.units) FILTER (WHERE k.effective_kind = 'expiry') AS expiry, "
                "SUM(k.units) FILTER (WHERE k.effective_kind = 'adjustment') "
                "AS adjustment FROM retainer_ledger_entry k "
                "WHERE k.contract_id = t.contract_id "
                "AND k.effective_kind IN ('credit', 'expiry', 'adjustment')) k ON TRUE",
                ids=self.ids,
                dated=dated,
                version=CHECKPOINT_VERSION,
                no_limit=NO_LIMIT,
            )
        )
        return {
            contract_id: {
                "balance": balance,
                "credit": credit or 0,
                "expiry": expiry or 0,
                "adjustment": adjustment or 0,
            }
            for contract_id, balance, credit, expiry, adjustment in rows
        }

    def _statement_data(self, date_from, date_to):
        """Return the statement of ``self`` for ``date_from``..``date_to``
        (dates, both included); see ``_statement_data_by_contract``."""
        self.ensure_one()
        return self._statement_data_by_contract(date_from, date_to)[self.id]

    def _statement_quiet_incidents(self, date_from, date_to, entries):
        """``(contract id, incident)`` of the incidents rounded once of the
        retainers of ``self`` with lines dated ``date_from``..``date_to``
        but none of ``entries`` (the period's movements): lines that cost no
        unit because the incident's earlier lines paid the rounding step.
        Oldest first line first; one grouped query."""
        listed = {(entry.contract_id.id, entry.incident_ref) for entry in entries}
        groups = self.env["account.analytic.line"]._read_group(
            [
                ("retainer_id", "in", self.ids),
                ("retainer_incident_ref", "!=", False),
                ("retainer_billed_outside", "=", False),
                ("date", ">=", date_from),
                ("date", "<=", date_to),
            ],
            ["retainer_id", "retainer_incident_ref"],
            ["date:min", "id:min"],
        )
        return [
            (contract.id, ref)
            for contract, ref, _first_date, _first_id in sorted(
                groups, key=lambda group: (group[2], group[3])
            )
            if (contract.id, ref) not in listed
        ]

    def _statement_data_by_contract(self, date_from, date_to):
        """Return ``{contract id: statement}`` for the retainers of ``self``
        for ``date_from``..``date_to`` (dates, both included), in a constant
        number of queries whatever their number.

        Each statement is a dict with ``opening`` (units before
        ``date_from``), ``lines`` (list of ``(entry, balance after it)``,
        oldest first), ``topup_units`` and ``usage_units`` (movements of the
        period), ``closing`` (units at the end of ``date_to``), and the
        blocks: ``blocks`` (list of ``(reference, credit entry)``, oldest
        first: the blocks of the period, those with units left and those
        the lines name), ``line_blocks`` (``{entry id: text}``: the blocks
        that pay for a usage line, the block a top-up line or an expiry is
        about), ``blocks_date`` (the day the block figures are read: today)
        and ``expiring`` (see ``retainer.ledger.entry._expiring_summary``);
        ``outside_lines`` (the period's timesheets billed outside the
        retainer, oldest first: they use no units) and ``outside_hours``;
        ``incidents``: the usage of the period's incidents rounded once,
        per incident (see ``retainer.ledger.entry._retainer_incident_groups``;
        each also with ``blocks``, the blocks that paid its entries), those
        whose lines of the period cost no unit included (no movement, 0
        units: see ``_statement_quiet_incidents``) and
        ``incident_labels`` (``{incident: name}``).

        The block figures and the blocks paying each line are computed for
        all the retainers at once: one more query for the replay of their
        ledgers.
        """
        Ledger = self.env["retainer.ledger.entry"]
        today = fields.Date.context_today(self)
        openings = self._retainer_balances_before(date_from)
        period_entries = Ledger.search(
            [
                ("contract_id", "in", self.ids),
                ("date", ">=", date_from),
                ("date", "<=", date_to),
            ],
            order="date asc, id asc",
        )
        live_blocks = Ledger.search(self._live_block_domain(), order="date asc, id asc")
        # One replay for the figures of the blocks and the payers of lines.
        (period_entries | live_blocks).mapped("remaining_units")
        entries_by_contract = period_entries.grouped("contract_id")
        outside_by_contract = (
            self.env["account.analytic.line"]
            .search(
                [
                    ("retainer_id", "in", self.ids),
                    ("retainer_billed_outside", "=", True),
                    ("date", ">=", date_from),
                    ("date", "<=", date_to),
                ],
                order="date asc, id asc",
            )
            .grouped("retainer_id")
        )
        blocks_by_contract = live_blocks.grouped("contract_id")
        # The incidents rounded once, for all the retainers at once.
        incidents_by_contract = defaultdict(list)
        incident_entries = period_entries.filtered(
            lambda entry: entry.rounding_scope == "incident" and entry.incident_ref
        )
        for group in incident_entries._retainer_incident_groups(
            date_from,
            date_to,
            quiet=self._statement_quiet_incidents(date_from, date_to, incident_entries),
        ):
            incidents_by_contract[group["contract"].id].append(group)
        statements = {}
        for contract in self:
            opening = openings.get(contract.id, 0)
            entries = entries_by_contract.get(contract, Ledger)
            units = entries.mapped("units")
            balances = running_balances(opening, units)
            topup_units = sum(
                entry.units for entry in entries if entry.effective_kind == "credit"
            )
            contract_blocks = blocks_by_contract.get(contract, Ledger)
            blocks, line_blocks = contract._statement_blocks(
                entries, contract_blocks, date_from, date_to
            )
            outside = outside_by_contract.get(
                contract, self.env["account.analytic.line"]
            )
            incidents = incidents_by_contract[contract.id]
            for group in incidents:
                payers = [line_blocks.get(entry.id) for entry in group["entries"]]
                group["blocks"] = ", ".join(dict.fromkeys(filter(None, payers)))
            statements[contract.id] = {
                "date_from": date_from,
                "date_to": date_to,
                "opening": opening,
                "lines": list(zip(entries, balances, strict=True)),
                "topup_units": topup_units,
                "usage_units": sum(units) - topup_units,
                "closing": balances[-1] if balances else opening,
                "blocks": blocks,
                "line_blocks": line_blocks,
                "blocks_date": today,
                "expiring": contract_blocks.filtered(
                    "remaining_units"
                )._expiring_summary(today),
                "outside_lines": outside,
                "outside_hours": sum(outside.mapped("unit_amount")),
                "incidents": incidents,
                "incident_labels": {
                    group["ref"]: group["label"] for group in incidents
                },
            }
        return statements

    def _statement_blocks(self, entries, blocks, date_from, date_to):
        """Blocks a statement of ``self`` lists and what each line says of
        them (figures already computed, see :meth:`_statement_data_by_contract`).

        :param entries: the period's entries, oldest first.
        :param blocks: the live blocks of ``self``, oldest first.
        :returns: ``(blocks, line_blocks)``: list of ``(reference, block)``
            and ``{entry id: text}``.
        """
        self.ensure_one()
        named = set()
        for entry in entries:
            named.update(entry.paid_by_block_ids.ids)
            if entry.block_entry_id:
                named.add(entry.block_entry_id.id)
        shown = blocks.filtered(
            lambda block: (
                block.id in named
                or (
                    block.date <= date_to
                    and (
                        block.remaining_units
                        or block.date >= date_from
                        or (block.expiry_date and block.expiry_date >= date_from)
                    )
                )
            )
        )
        references = {
            block.id: self.env._("B%(number)s", number=number)
            for number, block in enumerate(shown, start=1)
        }

        def reference(block):
            if block.id in references:
                return references[block.id]
            return self.env._(
                "%(kind)s of %(date)s",
                kind=block._customer_kind_label(),
                date=format_date(self.env, block.date),
            )

        line_blocks = {}
        for entry in entries:
            if entry.is_block:
                text = references.get(entry.id, "")
                if entry.block_entry_id:
                    old = reference(entry.block_entry_id)
                    text = (
                        self.env._("%(block)s, from %(old)s", block=text, old=old)
                        if text
                        else self.env._("from %(old)s", old=old)
                    )
            elif entry.kind == "expiry":
                text = reference(entry.block_entry_id)
            elif entry.kind == "reversal" or entry.units > 0:
                text = ""
            elif entry.reversal_entry_ids:
                text = ""  # cancelled: it no longer uses any block
            elif entry.paid_by_block_ids:
                text = ", ".join(reference(block) for block in entry.paid_by_block_ids)
            else:
                text = self.env._("overdraft")
            if text:
                line_blocks[entry.id] = text
        return [(references[block.id], block) for block in shown], line_blocks

    def _statement_totals_by_contract(self, date_from, date_to):
        """``{contract id: {opening_units, topup_units, usage_units,
        closing_units}}`` of the retainers of ``self`` for
        ``date_from``..``date_to`` (the summary of their statements), in two
        grouped queries whatever their number."""
        Ledger = self.env["retainer.ledger.entry"]
        openings = self._retainer_balances_before(date_from)
        movements = Ledger._read_group(
            [
                ("contract_id", "in", self.ids),
                ("date", ">=", date_from),
                ("date", "<=", date_to),
            ],
            ["contract_id", "effective_kind"],
            ["units:sum"],
        )
        figures = {
            contract.id: {
                "opening_units": openings.get(contract.id, 0),
                "topup_units": 0,
                "usage_units": 0,
            }
            for contract in self
        }
        for contract, effective_kind, units in movements:
            key = "topup_units" if effective_kind == "credit" else "usage_units"
            figures[contract.id][key] += units or 0
        for values in figures.values():
            values["closing_units"] = (
                values["opening_units"] + values["topup_units"] + values["usage_units"]
            )
        return figures
