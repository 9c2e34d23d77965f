from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools.alerts import DEFAULT_EXPIRY_WARNING_DAYS, parse_warning_days
from ..tools.rounding import (
    POLICY_DAY,
    POLICY_GRACE,
    POLICY_MIN_UNITS,
    POLICY_UNIT,
    policy_error,
)

DEFERRED_ACCOUNT_TYPES = ("liability_current", "liability_non_current")
INCOME_ACCOUNT_TYPES = ("income", "income_other")

ROUNDING_METHOD_SELECTION = [
    ("grace", "Grace (drop a short remainder)"),
    ("up", "Always round up"),
    ("down", "Always round down"),
    ("nearest", "Nearest (half up)"),
]
ROUNDING_SCOPE_SELECTION = [
    ("entry", "Each entry"),
    ("incident", "Each incident"),
]
OVERDRAFT_POLICY_SELECTION = [
    ("allow", "Allow"),
    ("warn", "Allow and warn"),
    ("block", "Block"),
]
# Where a top-up comes from: the first five are the orders' origins, the
# others those of credits posted without an order.
ORDER_TOPUP_ORIGIN_SELECTION = [
    ("sale", "Sales order"),
    ("portal_request", "Portal request"),
    ("portal_buy", "Portal purchase"),
    ("recurring", "Recurring top-up"),
    ("auto", "Automatic top-up"),
]
TOPUP_ORIGIN_SELECTION = ORDER_TOPUP_ORIGIN_SELECTION + [
    ("manual", "Manual credit"),
    ("rollover", "Rollover"),
    ("overdraft", "Overdraft invoice"),
]
CREDIT_TRIGGER_SELECTION = [
    ("confirm", "When the order is confirmed"),
    ("posted", "When the invoice is posted"),
    ("paid", "When the invoice is paid in full"),
]
TOPUP_DOCUMENT_SELECTION = [
    ("quotation", "Quotation"),
    ("invoice", "Draft invoice"),
]
OVERDRAFT_MODE_SELECTION = [
    ("invoice", "Invoice the overdraft"),
    ("net", "Net it against the next top-up"),
]
OUTSIDE_LEVEL_SELECTION = [
    ("refuse", "Refuse the time"),
    ("bill", "Bill it outside the retainer"),
]
STATEMENT_FREQUENCY_SELECTION = [
    ("none", "No statement"),
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
]


class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "retainer.server.values.mixin"]

    # Where revenue recognition resumes: the job's own record of what it
    # posted (written in SQL under its lock), never a client's value.
    _retainer_server_fields = frozenset({"retainer_recognized_until"})

    # The retainer settings are read together, in a prefetch group of their
    # own: every request reads its company, and a timesheet saved on a
    # plain project (measured) then fetches none of these 32 columns. The
    # retainer settings of res.company declared elsewhere join the group.

    retainer_rounding_method = fields.Selection(
        ROUNDING_METHOD_SELECTION,
        default="grace",
        required=True,
        prefetch="retainer",
    )
    retainer_rounding_unit_minutes = fields.Integer(
        default=15, required=True, prefetch="retainer"
    )
    retainer_rounding_grace_minutes = fields.Integer(
        default=5, required=True, prefetch="retainer"
    )
    retainer_rounding_min_units = fields.Integer(
        default=1, required=True, prefetch="retainer"
    )
    retainer_rounding_scope = fields.Selection(
        ROUNDING_SCOPE_SELECTION,
        default="entry",
        required=True,
        help="Each entry: every timesheet entry is rounded on its own. Each "
        "incident: the time of an incident (its ticket, else its task, else "
        "the entry) is rounded once, and each entry posts the difference.",
        prefetch="retainer",
    )
    retainer_day_hours = fields.Float(default=7.0, required=True, prefetch="retainer")
    retainer_overdraft_policy = fields.Selection(
        OVERDRAFT_POLICY_SELECTION,
        default="warn",
        required=True,
        prefetch="retainer",
    )
    retainer_outside_level = fields.Selection(
        OUTSIDE_LEVEL_SELECTION,
        string="Work outside the level",
        default="refuse",
        required=True,
        help="Time whose contact type the retainer's level does not include: "
        "refused, or billed outside the retainer (no units used; invoiced "
        "through the project's sale order item, else at the price of the "
        "overage product).",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_rollover_max_units = fields.Integer(
        help="Default for new retainers: when a block expires, up to this many "
        "of its unused units roll over into a new block (0: none).",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_rollover_validity_months = fields.Integer(
        default=3,
        help="Default for new retainers: months a rolled-over block stays "
        "valid after the block it comes from expired (0: never expires).",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_audit_required = fields.Boolean(
        help="New retainers start with an audit and health-check of the "
        "customer's IT estate, unless their level says otherwise.",
        groups="base.group_user",
        prefetch="retainer",
    )
    # Customer alerts (see models/retainer_contract.py).
    retainer_low_balance_units = fields.Integer(
        string="Low balance alert (units)",
        default=28,
        help="Default for new retainers: when the balance falls to this many "
        "units or fewer, the customer's contacts get one email and the account "
        "manager an activity. 0: no alert.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_expiry_warning_days = fields.Char(
        string="Expiry warnings (days before)",
        default=DEFAULT_EXPIRY_WARNING_DAYS,
        help="Days before a block with unused units expires on which the "
        "customer's contacts are warned, separated by commas (e.g. 30,7). "
        "Empty: no warning.",
        groups="base.group_user",
        prefetch="retainer",
    )
    # Selling and invoicing retainers.
    retainer_credit_trigger = fields.Selection(
        CREDIT_TRIGGER_SELECTION,
        default="confirm",
        required=True,
        help="When the units sold on an order become usable. Each order keeps "
        "the rule in force when it was confirmed.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_topup_document = fields.Selection(
        TOPUP_DOCUMENT_SELECTION,
        string="Top-up document",
        default="quotation",
        required=True,
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_overdraft_mode = fields.Selection(
        OVERDRAFT_MODE_SELECTION,
        default="invoice",
        required=True,
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_overdraft_auto_invoice = fields.Boolean(
        help="At the start of each month, invoice the overdrafts of the "
        "previous month (only when overdrafts are invoiced).",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_day_product_id = fields.Many2one(
        "product.product",
        domain="[('retainer_units', '>', 0)]",
        help='Product sold by "Top up N days". Empty: the default Retainer day.',
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_hour_product_id = fields.Many2one(
        "product.product",
        domain="[('retainer_units', '>', 0)]",
        help='Product sold by "Top up N hours". Empty: the default Retainer hour.',
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_overage_product_id = fields.Many2one(
        "product.product",
        domain="[('type', '=', 'service'), ('retainer_units', '=', 0)]",
        help="Product invoiced, in hours, for an overdraft. Empty: the default "
        "Retainer overage hour.",
        groups="base.group_user",
        prefetch="retainer",
    )

    # Revenue recognition (see models/retainer_revenue_line.py).
    retainer_defer_revenue = fields.Boolean(
        string="Defer retainer revenue",
        help="Invoices of retainer products post to the deferred revenue "
        "account; the revenue is recognised as the units are used or expire. "
        "Applies to invoices posted from now on.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_deferred_account_id = fields.Many2one(
        "account.account",
        string="Deferred revenue account",
        check_company=True,
        domain=[("account_type", "in", DEFERRED_ACCOUNT_TYPES)],
        help="Liability holding what customers paid for time not used yet.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_revenue_account_id = fields.Many2one(
        "account.account",
        string="Retainer revenue account",
        check_company=True,
        domain=[("account_type", "in", INCOME_ACCOUNT_TYPES)],
        help="Income account credited with the value of the units used.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_breakage_account_id = fields.Many2one(
        "account.account",
        string="Breakage account",
        check_company=True,
        domain=[("account_type", "in", INCOME_ACCOUNT_TYPES)],
        help="Income account credited with the value of units that expired "
        "unused. Empty: the revenue account.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_revenue_journal_id = fields.Many2one(
        "account.journal",
        string="Recognition journal",
        check_company=True,
        domain=[("type", "=", "general")],
        help="Miscellaneous journal of the recognition entries.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_recognized_until = fields.Date(
        string="Retainer revenue recognised until",
        readonly=True,
        copy=False,
        help="Date of the last recognition run.",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_statement_frequency = fields.Selection(
        STATEMENT_FREQUENCY_SELECTION,
        string="Statements by email",
        default="none",
        required=True,
        help="How often new retainers email their statement to the customer "
        "(each retainer can override it).",
        groups="base.group_user",
        prefetch="retainer",
    )

    @api.constrains(
        "retainer_defer_revenue",
        "retainer_deferred_account_id",
        "retainer_revenue_account_id",
        "retainer_breakage_account_id",
        "retainer_revenue_journal_id",
    )
    def _check_retainer_revenue_settings(self):
        for company in self:
            company._retainer_check_revenue_settings()

    def _retainer_check_revenue_settings(self, required=None):
        """:raises ValidationError: deferral on (or ``required``) without
        its accounts and journal, or an account of the wrong type."""
        self.ensure_one()
        required = self.retainer_defer_revenue if required is None else required
        missing = [
            self._fields[fname].string
            for fname in (
                "retainer_deferred_account_id",
                "retainer_revenue_account_id",
                "retainer_revenue_journal_id",
            )
            if not self[fname]
        ]
        if required and missing:
            raise ValidationError(
                self.env._(
                    "To defer and recognise retainer revenue, %(company)s needs "
                    "the %(missing)s (Retainers settings).",
                    company=self.name,
                    missing=", ".join(missing),
                )
            )
        deferred = self.retainer_deferred_account_id
        if deferred and deferred.account_type not in DEFERRED_ACCOUNT_TYPES:
            raise ValidationError(
                self.env._(
                    "The deferred revenue account %(account)s must be a liability "
                    "account.",
                    account=deferred.display_name,
                )
            )
        for account in (
            self.retainer_revenue_account_id | self.retainer_breakage_account_id
        ):
            if account.account_type not in INCOME_ACCOUNT_TYPES:
                raise ValidationError(
                    self.env._(
                        "The retainer revenue and breakage accounts must be income "
                        "accounts: %(account)s is not.",
                        account=account.display_name,
                    )
                )
        journal = self.retainer_revenue_journal_id
        if journal and journal.type != "general":
            raise ValidationError(
                self.env._(
                    "The recognition journal %(journal)s must be a miscellaneous "
                    "journal.",
                    journal=journal.display_name,
                )
            )

    def _retainer_breakage_account(self):
        self.ensure_one()
        return self.retainer_breakage_account_id or self.retainer_revenue_account_id

    def _retainer_setup_revenue_accounts(self):
        """Give companies with a chart of accounts a deferred revenue account
        and defaults for the revenue account and recognition journal, where
        missing (deferral itself stays off until turned on)."""
        Account = self.env["account.account"]
        for company in self.filtered("chart_template"):
            vals = {}
            if not company.retainer_deferred_account_id:
                liability = Account.search(
                    [
                        *Account._check_company_domain(company),
                        ("account_type", "=", "liability_current"),
                    ],
                    order="code desc",
                    limit=1,
                )
                code = (
                    Account.with_company(company)._search_new_account_code(
                        liability.code
                    )
                    if liability.code
                    else "RETDEF"
                )
                vals["retainer_deferred_account_id"] = Account.create(
                    {
                        "name": self.env._("Deferred retainer revenue"),
                        "code": code,
                        "account_type": "liability_current",
                        "company_ids": [fields.Command.set(company.ids)],
                    }
                ).id
            if not company.retainer_revenue_account_id:
                # The income account products of the default category use.
                category = self.env.ref(
                    "product.product_category_all", raise_if_not_found=False
                )
                income = (
                    category.with_company(company).property_account_income_categ_id
                    if category
                    else Account
                )
                income = income or Account.search(
                    [
                        *Account._check_company_domain(company),
                        ("account_type", "=", "income"),
                    ],
                    order="code",
                    limit=1,
                )
                vals["retainer_revenue_account_id"] = income.id
            if not company.retainer_revenue_journal_id:
                vals["retainer_revenue_journal_id"] = (
                    self.env["account.journal"]
                    .search(
                        [
                            *self.env["account.journal"]._check_company_domain(company),
                            ("type", "=", "general"),
                        ],
                        order="sequence, id",
                        limit=1,
                    )
                    .id
                )
            if vals:
                company.write(vals)

    @api.constrains(
        "retainer_rounding_unit_minutes",
        "retainer_rounding_grace_minutes",
        "retainer_rounding_min_units",
        "retainer_day_hours",
    )
    def _check_retainer_rounding_policy(self):
        """The defaults new retainers take: refused as a retainer's own
        policy is (a retainer could not be created with them)."""
        for company in self:
            company._retainer_check_rounding_policy(
                unit_minutes=company.retainer_rounding_unit_minutes,
                grace_minutes=company.retainer_rounding_grace_minutes,
                min_units=company.retainer_rounding_min_units,
                day_hours=company.retainer_day_hours,
            )

    @api.model
    def _retainer_check_rounding_policy(
        self, *, unit_minutes, grace_minutes, min_units, day_hours
    ):
        """Check a rounding policy and retainer day (a company's defaults or
        a retainer's own): see ``tools.rounding.policy_error``.

        :raises ValidationError: the policy cannot round, with the same
            message wherever it is set.
        """
        problem = policy_error(
            unit_minutes=unit_minutes,
            grace_minutes=grace_minutes,
            min_units=min_units,
            day_hours=day_hours,
        )
        if problem == POLICY_UNIT:
            raise ValidationError(self.env._("A unit must last at least a minute."))
        if problem == POLICY_GRACE:
            raise ValidationError(
                self.env._("The grace must be at least 0 and shorter than a unit.")
            )
        if problem == POLICY_MIN_UNITS:
            raise ValidationError(
                self.env._("The minimum units per entry cannot be negative.")
            )
        if problem == POLICY_DAY:
            raise ValidationError(
                self.env._("A retainer day lasts more than 0 and at most 24 hours.")
            )

    @api.constrains("retainer_rollover_max_units", "retainer_rollover_validity_months")
    def _check_retainer_rollover(self):
        for company in self:
            if (
                company.retainer_rollover_max_units < 0
                or company.retainer_rollover_validity_months < 0
            ):
                raise ValidationError(
                    self.env._(
                        "The rollover units and months of %(company)s cannot be "
                        "negative.",
                        company=company.name,
                    )
                )

    @api.constrains("retainer_low_balance_units", "retainer_expiry_warning_days")
    def _check_retainer_alerts(self):
        for company in self:
            if company.retainer_low_balance_units < 0:
                raise ValidationError(
                    self.env._(
                        "The low balance alert of %(company)s cannot be negative "
                        "(0 switches it off).",
                        company=company.name,
                    )
                )
            company._retainer_expiry_warning_days()

    def _retainer_expiry_warning_days(self):
        """The expiry warnings of this company, largest first (see
        ``tools.alerts.parse_warning_days``).

        :raises ValidationError: the setting is not a list of non-negative
            whole numbers of days.
        """
        self.ensure_one()
        try:
            return parse_warning_days(self.retainer_expiry_warning_days)
        except ValueError as error:
            raise ValidationError(
                self.env._(
                    "The expiry warnings of %(company)s must be whole numbers of "
                    "days, 0 or more, separated by commas (e.g. 30,7): "
                    '"%(value)s" is not.',
                    company=self.name,
                    value=error.args[0],
                )
            ) from error

    def _retainer_product(self, kind):
        """Return the product this company sells for ``kind`` ('day', 'hour'
        or 'overage'): the configured one, else the default data product.

        :raises UserError: when neither exists.
        """
        self.ensure_one()
        product = self[f"retainer_{kind}_product_id"] or self.env.ref(
            f"defining_retainer.product_retainer_{kind}", raise_if_not_found=False
        )
        if not product or not product.active:
            raise UserError(
                self.env._(
                    "No retainer %(kind)s product is set for %(company)s: choose "
                    "one in the Retainers settings.",
                    kind=kind,
                    company=self.name,
                )
            )
        return product
