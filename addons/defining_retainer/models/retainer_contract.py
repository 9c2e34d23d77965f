from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import format_duration

from ..tools.rounding import duration_to_units, units_to_hours
from ..tools.server_values import server_values
from .res_company import OVERDRAFT_POLICY_SELECTION, ROUNDING_METHOD_SELECTION
from .retainer_level import CONTACT_TYPES

LEDGER_BOUND_FIELDS = {"rounding_unit_minutes", "partner_id", "company_id"}


class RetainerContract(models.Model):
    _name = "retainer.contract"
    _description = "Retainer Contract"
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
        [("pending", "Pending"), ("done", "Completed"), ("waived", "Waived")],
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
    unsupported_audit_line_ids = fields.One2many(
        "retainer.audit.line",
        "contract_id",
        string="Unsupported assets",
        domain=[("supported", "=", False)],
        readonly=True,
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
    ledger_entry_count = fields.Integer(compute="_compute_balances")

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
        totals = self.env["retainer.ledger.entry"]._retainer_totals(self._origin.ids)
        for contract in self:
            figures = totals.get(contract._origin.id, {})
            purchased = figures.get("purchased", 0)
            used = figures.get("used", 0)
            balance = figures.get("balance", 0)
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
            contract.ledger_entry_count = figures.get("count", 0)

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

    # === CONSTRAINT METHODS === #

    @api.constrains("state", "audit_required", "audit_state")
    def _check_audit_before_active(self):
        for contract in self:
            if (
                contract.state == "active"
                and contract.audit_required
                and contract.audit_state == "pending"
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
        vals_list = [self._retainer_client_vals(vals) for vals in vals_list]
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
            return super().create(vals_list)

    def write(self, vals):
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
        return super().write(vals)

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
            contract._retainer_set_state(
                "audit" if contract.audit_required else "active"
            )

    def action_complete_audit(self):
        for contract in self:
            if contract.state != "audit":
                raise UserError(self.env._("This retainer is not in audit."))
            if not contract.audit_line_ids:
                raise UserError(
                    self.env._(
                        "Record the customer's assets and technologies before "
                        "completing the audit, or waive it."
                    )
                )
            contract._retainer_set_state("active", audit_state="done")
            unsupported = contract.unsupported_audit_line_ids
            if unsupported:
                contract.message_post(
                    body=self.env._(
                        "Audit completed. Not supported: %(assets)s",
                        assets=", ".join(unsupported.mapped("name")),
                    )
                )

    def _waive_audit(self, reason):
        """Activate without an audit. Managers only; ``reason`` is required."""
        self._check_manager()
        if not (reason or "").strip():
            raise UserError(self.env._("Waiving an audit needs a reason."))
        for contract in self:
            if contract.state != "audit":
                raise UserError(self.env._("This retainer is not in audit."))
        self._retainer_set_state(
            "active", audit_state="waived", audit_waive_reason=reason
        )
        for contract in self:
            contract.message_post(
                body=self.env._("Audit waived: %(reason)s", reason=reason)
            )

    def action_suspend(self):
        self._check_manager()
        if self.filtered(lambda c: c.state != "active"):
            raise UserError(self.env._("Only an active retainer can be suspended."))
        self._retainer_set_state("suspended")

    def action_close(self):
        self._check_manager()
        if self.filtered(lambda c: c.state == "closed"):
            raise UserError(self.env._("This retainer is already closed."))
        self._retainer_set_state("closed")

    def action_reopen(self):
        self._check_manager()
        if self.filtered(lambda c: c.state not in ("suspended", "closed")):
            raise UserError(
                self.env._("Only a suspended or closed retainer can be reopened.")
            )
        self._retainer_set_state("active")

    def _retainer_set_state(self, state, **audit_vals):
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
        self.ensure_one()
        policy = {
            "unit_minutes": self.rounding_unit_minutes,
            "grace_minutes": self.rounding_grace_minutes,
            "min_units": self.rounding_min_units,
            "method": self.rounding_method,
        }
        level = self.level_id
        rates = {ctype: level._multiplier(ctype) for ctype in CONTACT_TYPES}

        def count(hours, contact_type):
            return duration_to_units(hours * rates.get(contact_type, 1.0), **policy)

        return count

    def _format_units(self, units):
        """``units`` as text with the matching hours, e.g. ``6 units (1:30)``."""
        self.ensure_one()
        return self.env._(
            "%(units)s units (%(hours)s)",
            units=units,
            hours=format_duration(units_to_hours(units, self.rounding_unit_minutes)),
        )

    def _post_manual_entry(
        self,
        kind,
        units,
        reason,
        date=None,
        expiry_date=None,
        unit_value=0.0,
        value_account=None,
    ):
        """Post a manager's credit or signed adjustment with its reason.

        A manager's correction is never refused by the overdraft policy.
        ``expiry_date`` (credits only) makes the credit a dated block.
        ``unit_value`` (credits only) gives the credit a value per unit,
        put on the deferred revenue account against ``value_account`` (see
        ``_retainer_post_manual_value``) and recognised as it is used.
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
        if unit_value:
            if kind != "credit":
                raise UserError(self.env._("Only a credit can be given a value."))
            if expiry_date:
                # Checked before the value's journal entry is posted.
                self.env["retainer.ledger.entry"]._check_block_dates(vals)
            vals |= self._retainer_post_manual_value(
                units, unit_value, value_account, date, reason
            )
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

    def _get_report_base_filename(self):
        self.ensure_one()
        return self.env._("Retainer %(name)s", name=self.name)
