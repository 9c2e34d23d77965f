"""The audit and health-check of a customer's estate: the audit itself
(assets in ``retainer_audit_line.py``), its findings, the customer's
acknowledgement, the time spent auditing, and what staff logging time on
an asset the firm does not support are told."""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools.server_values import server_values, server_values_allowed

SEVERITY_SELECTION = [
    ("critical", "Critical"),
    ("warning", "Warning"),
    ("ok", "OK"),
]
SEVERITY_RANK = {"critical": 0, "warning": 1, "ok": 2}

# What the time spent auditing costs the customer (the company's choice,
# copied on each audit when it starts).
AUDIT_TIME_SELECTION = [
    ("free", "Free"),
    ("debit", "Debited from the retainer once it is active"),
    ("invoice", "Invoiced at the audit product's price"),
]


class RetainerAudit(models.Model):
    _name = "retainer.audit"
    _inherit = ["retainer.server.values.mixin"]
    _description = "Retainer Audit and Health-check"
    _order = "date desc, id desc"
    _check_company_auto = True

    # The outcome and what the customer said: the server's alone (the
    # buttons, the portal's acknowledgement).
    _retainer_server_fields = frozenset(
        {
            "state",
            "time_policy",
            "task_id",
            "sale_order_id",
            "sale_line_id",
            "acknowledged_partner_id",
            "acknowledged_name",
            "acknowledged_date",
            "acknowledgement_waived",
        }
    )

    name = fields.Char(compute="_compute_name", store=True)
    contract_id = fields.Many2one(
        "retainer.contract",
        string="Retainer",
        required=True,
        ondelete="cascade",
        index=True,
        check_company=True,
    )
    company_id = fields.Many2one(
        related="contract_id.company_id", store=True, precompute=True
    )
    partner_id = fields.Many2one(related="contract_id.partner_id", string="Customer")
    date = fields.Date(required=True, default=fields.Date.context_today)
    user_id = fields.Many2one(
        "res.users",
        string="Audited by",
        default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
    )
    summary = fields.Text(help="Shown to the customer at the top of the audit.")
    state = fields.Selection(
        [("draft", "In progress"), ("done", "Completed"), ("waived", "Waived")],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
    )
    asset_ids = fields.One2many("retainer.audit.line", "audit_id", string="Assets")
    finding_ids = fields.One2many(
        "retainer.audit.finding", "audit_id", string="Findings"
    )
    time_policy = fields.Selection(
        AUDIT_TIME_SELECTION,
        string="Audit time",
        readonly=True,
        help="What the time logged on the audit's task costs the customer "
        "(the company's setting when the audit started).",
    )
    task_id = fields.Many2one(
        "project.task", string="Audit task", readonly=True, copy=False
    )
    hours_spent = fields.Float(related="task_id.effective_hours", string="Hours spent")
    sale_order_id = fields.Many2one(
        "sale.order", string="Audit quotation", readonly=True, copy=False
    )
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Audit order line",
        readonly=True,
        copy=False,
        help="The line of the audit product that bills the time logged on the "
        "audit's task, before and after its completion (delivered quantity "
        "from the timesheets).",
    )
    acknowledged_partner_id = fields.Many2one(
        "res.partner", string="Acknowledged by", readonly=True, copy=False
    )
    acknowledged_name = fields.Char(readonly=True, copy=False)
    acknowledged_date = fields.Datetime(readonly=True, copy=False)
    acknowledgement_waived = fields.Boolean(readonly=True, copy=False)
    is_current = fields.Boolean(compute="_compute_is_current")
    unsupported_count = fields.Integer(compute="_compute_counts")
    limited_count = fields.Integer(compute="_compute_counts")
    critical_count = fields.Integer(compute="_compute_counts")
    warning_count = fields.Integer(compute="_compute_counts")

    # === COMPUTE METHODS === #

    @api.depends("contract_id.name", "date")
    def _compute_name(self):
        for audit in self:
            audit.name = self.env._(
                "Audit %(retainer)s %(date)s",
                retainer=audit.contract_id.name or "",
                date=audit.date or "",
            )

    def _compute_is_current(self):
        for audit in self:
            audit.is_current = audit.contract_id.current_audit_id == audit._origin

    @api.depends("asset_ids.support_status", "finding_ids.severity")
    def _compute_counts(self):
        for audit in self:
            statuses = audit.asset_ids.mapped("support_status")
            severities = audit.finding_ids.mapped("severity")
            audit.unsupported_count = statuses.count("not_supported")
            audit.limited_count = statuses.count("limited")
            audit.critical_count = severities.count("critical")
            audit.warning_count = severities.count("warning")

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = self._retainer_client_vals_list(vals_list)
        if self.env.context.get("retainer_audit_adopt"):
            # The first audit of items recorded before (see
            # _retainer_adopt_legacy_lines): no check, no task.
            return super().create(vals_list)
        contracts = self.env["retainer.contract"].browse(
            [vals.get("contract_id") for vals in vals_list]
        )
        open_audits = self.search(
            [("contract_id", "in", contracts.ids), ("state", "=", "draft")]
        )
        if open_audits:
            raise UserError(
                self.env._(
                    "%(audit)s is still in progress: complete it (or waive it) "
                    "before starting another health-check.",
                    audit=open_audits[0].name,
                )
            )
        for vals, contract in zip(vals_list, contracts, strict=True):
            if contract.state in ("closed", "draft"):
                raise UserError(
                    self.env._(
                        "Retainer %(retainer)s is %(state)s: it cannot be audited.",
                        retainer=contract.name,
                        state=contract.state,
                    )
                )
            vals["time_policy"] = contract.company_id.retainer_audit_time or "free"
        with server_values():  # the company's policy, set above
            audits = super().create(vals_list)
        audits._retainer_create_tasks()
        return audits

    def write(self, vals):
        vals = self._retainer_client_vals(vals)
        if vals and not server_values_allowed():  # the server records outcomes
            self._retainer_check_editable()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_done(self):
        self._retainer_check_editable()

    # === ACTION METHODS === #

    def action_complete(self):
        """Staff completed the audit: it is kept as shown to the customer,
        and the retainer in audit is activated (or waits for the customer's
        acknowledgement when the company requires it)."""
        self.env["retainer.contract"]._check_manager()
        for audit in self:
            if audit.state != "draft":
                raise UserError(
                    self.env._("%(audit)s is not in progress.", audit=audit.name)
                )
            if not audit.asset_ids:
                raise UserError(
                    self.env._(
                        "Record the customer's assets and technologies before "
                        "completing the audit, or waive it."
                    )
                )
        with server_values():
            self.write({"state": "done"})
        for audit in self:
            audit._retainer_post_completion()
            audit._retainer_invoice_time()
            audit.contract_id._retainer_audit_completed(audit)
        return True

    def action_view_task(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "project.task",
            "res_id": self.task_id.id,
            "view_mode": "form",
        }

    # === BUSINESS METHODS === #

    def _get_report_base_filename(self):
        """The PDF's file name (the portal's report route asks for it)."""
        self.ensure_one()
        return self.name

    def _retainer_check_editable(self):
        """Raise if an audit of ``self`` is no longer in progress: what was
        completed is kept as the customer saw it (server code may still
        record the outcome)."""
        if self.env.context.get("retainer_audit_server_write"):
            return
        closed = self.filtered(lambda audit: audit.state != "draft")
        if closed:
            raise UserError(
                self.env._(
                    "%(audit)s is %(state)s: it is kept as the customer saw it. "
                    "Start a new health-check to record changes.",
                    audit=closed[0].name,
                    state=dict(self._fields["state"]._description_selection(self.env))[
                        closed[0].state
                    ].lower(),
                )
            )

    def _retainer_create_tasks(self):
        """Each audit gets a task on its retainer's project, for the time
        spent auditing (none while the retainer has no project)."""
        for audit in self:
            project = audit.contract_id.project_ids[:1]
            if not project:
                continue
            # sudo: the task is the audit's own, created with it; a retainer
            # manager may not be a project user.
            task = (
                self.env["project.task"]
                .sudo()
                .create(
                    {
                        "name": self.env._(
                            "Audit and health-check %(date)s", date=audit.date
                        ),
                        "project_id": project.id,
                        "user_ids": [(6, 0, audit.user_id.ids)],
                    }
                )
            )
            with server_values():
                audit.write({"task_id": task.id})

    def _retainer_post_completion(self):
        self.ensure_one()
        unsupported = self.asset_ids.filtered(
            lambda asset: asset.support_status == "not_supported"
        )
        body = self.env._("%(audit)s completed.", audit=self.name)
        if unsupported:
            body = self.env._(
                "Audit completed. Not supported: %(assets)s",
                assets=", ".join(unsupported.mapped("name")),
            )
        self.contract_id.message_post(body=body)

    def _retainer_invoice_time(self):
        """With the ``invoice`` policy, a quotation of the audit product for
        the hours logged on the audit's task (none without task or
        product). As an Odoo order line of a service delivered by
        timesheets: the time logged on the task, then and later, is its
        delivered quantity, which is invoiced."""
        self.ensure_one()
        product = self.company_id.retainer_audit_product_id
        if self.time_policy != "invoice" or not product or not self.task_id:
            return
        # sudo: the quotation is the audit's own; a retainer manager may not
        # be a salesperson.
        order = (
            self.env["sale.order"]
            .sudo()
            .with_company(self.company_id)
            .create(
                {
                    "partner_id": self.contract_id.partner_id.id,
                    "company_id": self.company_id.id,
                    "user_id": self.contract_id.user_id.id,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_uom_qty": self.hours_spent,
                                "name": self.name,
                            },
                        )
                    ],
                }
            )
        )
        with server_values():
            self.with_context(retainer_audit_server_write=True).write(
                {"sale_order_id": order.id, "sale_line_id": order.order_line[:1].id}
            )
        # The time already logged now bills the line, as later time will
        # (see _compute_so_line). sudo: every consultant's time on the
        # audit's own task.
        self.task_id.sudo().timesheet_ids.filtered(
            lambda line: not line.retainer_id and line._is_not_billed()
        ).write({"so_line": order.order_line[:1].id})

    def _retainer_pending_time(self):
        """Timesheets of the audits' tasks kept off the retainer while it was
        in audit (``debit`` policy): debited once it is active."""
        debit = self.filtered(lambda audit: audit.time_policy == "debit")
        # sudo: every consultant's time on the audit's task, whoever reads.
        return debit.task_id.sudo().timesheet_ids.filtered(
            lambda line: not line.retainer_id
        )

    def _retainer_acknowledge(self, partner, name):
        """The customer's contact ``partner`` acknowledges the audit's
        findings, signing with ``name``: recorded on the audit and in the
        retainer's conversation; a retainer waiting for it is activated.

        :raises AccessError: ``partner`` is not a contact of the customer
            with portal access.
        :raises UserError: nothing to acknowledge (in progress, waived,
            already acknowledged) or no name.
        """
        self.ensure_one()
        self._retainer_check_acknowledge(partner)
        name = (name or "").strip()
        if not name:
            raise UserError(self.env._("Type your full name to acknowledge the audit."))
        if len(name) > 100:
            raise UserError(
                self.env._("The name is too long (100 characters at most).")
            )
        contract = self.contract_id
        with server_values():
            self.with_context(retainer_audit_server_write=True).write(
                {
                    "acknowledged_partner_id": partner.id,
                    "acknowledged_name": name,
                    "acknowledged_date": fields.Datetime.now(),
                }
            )
        # Posted as the customer's portal user, as on the portal (Odoo's
        # signed quotation): the followers are notified, not its author.
        # sudo: the contact was checked above; a portal user may not post on
        # the retainer otherwise.
        portal_user = partner.sudo().user_ids.filtered(lambda user: user.share)[:1]
        contract.with_user(portal_user).sudo().message_post(
            body=self.env._(
                "%(audit)s acknowledged by %(name)s.", audit=self.name, name=name
            ),
            author_id=partner.id,
            # A contact without an email address still signs.
            email_from=partner.email_formatted or self.company_id.email_formatted,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        contract._retainer_audit_acknowledged(self)
        return True

    def _retainer_can_acknowledge(self, partner):
        """Whether ``partner`` may acknowledge the audit now (the portal
        shows the form only then)."""
        self.ensure_one()
        try:
            self._retainer_check_acknowledge(partner)
        except (AccessError, UserError):
            return False
        return True

    def _retainer_check_acknowledge(self, partner):
        """Raise unless ``partner`` may acknowledge the audit now (see
        ``_retainer_acknowledge``)."""
        self.ensure_one()
        customer = self.contract_id.partner_id.commercial_partner_id
        if not partner or partner.commercial_partner_id != customer:
            raise AccessError(
                self.env._(
                    "Only the contacts of %(customer)s can acknowledge its audit.",
                    customer=customer.display_name,
                )
            )
        if not partner.sudo().user_ids.filtered(lambda user: user.share):
            raise AccessError(
                self.env._(
                    "%(contact)s has no portal access: only a contact with portal "
                    "access can acknowledge the audit.",
                    contact=partner.display_name,
                )
            )
        if self.state == "waived" or self.acknowledgement_waived:
            raise UserError(
                self.env._(
                    "%(audit)s was waived by the firm: there is nothing to "
                    "acknowledge.",
                    audit=self.name,
                )
            )
        if self.state != "done":
            raise UserError(
                self.env._(
                    "%(audit)s is still in progress: it can be acknowledged once "
                    "completed.",
                    audit=self.name,
                )
            )
        if self.acknowledged_date:
            raise UserError(
                self.env._(
                    "%(audit)s was already acknowledged by %(name)s on %(date)s.",
                    audit=self.name,
                    name=self.acknowledged_name,
                    date=fields.Date.to_string(self.acknowledged_date.date()),
                )
            )

    @api.model
    def _retainer_adopt_legacy_lines(self):
        """Give the audit items recorded before audits were records of their
        own (no ``audit_id``) a first audit per retainer: completed unless
        the retainer is still in audit, dated when the retainer was created,
        by its account manager. An item without technology keeps the status
        staff ticked, with the reason saying so. Returns the new audits."""
        Line = self.env["retainer.audit.line"].with_context(active_test=False)
        legacy = Line.search([("audit_id", "=", False)])
        if not legacy:
            return self.browse()
        vals_list = []
        contracts = legacy.contract_id
        for contract in contracts:
            vals_list.append(
                {
                    "contract_id": contract.id,
                    "date": contract.create_date.date(),
                    "user_id": contract.user_id.id,
                    "state": "draft" if contract.state == "audit" else "done",
                    "time_policy": "free",
                }
            )
        # Past the checks of create(): a record of what already happened.
        with server_values():
            audits = self.with_context(retainer_audit_adopt=True).create(vals_list)
        audit_by_contract = {audit.contract_id.id: audit for audit in audits}
        legacy = legacy.with_context(retainer_audit_server_write=True)
        for contract, lines in legacy.grouped("contract_id").items():
            lines.write({"audit_id": audit_by_contract[contract.id].id})
        legacy.filtered(
            lambda line: (
                not line.technology_id and not (line.override_reason or "").strip()
            )
        ).write(
            {
                "override_reason": self.env._(
                    "Recorded before the catalogue of technologies."
                )
            }
        )
        return audits

    def _retainer_report_values(self):
        """What the customer is shown of the audit (portal and PDF): the
        assets by support status, mismatches first, and the findings by
        severity, critical first."""
        self.ensure_one()
        assets = self.asset_ids.sorted(
            lambda asset: (asset.support_rank, asset.category or "", asset.name)
        )
        findings = self.finding_ids.sorted(
            lambda finding: (SEVERITY_RANK.get(finding.severity, 3), finding.id)
        )
        return {
            "audit": self,
            "mismatches": assets.filtered(lambda a: a.support_status != "supported"),
            "supported_assets": assets.filtered(
                lambda a: a.support_status == "supported"
            ),
            "assets": assets,
            "findings": findings,
        }


class RetainerAuditFinding(models.Model):
    _name = "retainer.audit.finding"
    _description = "Retainer Health-check Finding"
    _order = "audit_id, id"
    _check_company_auto = True

    audit_id = fields.Many2one(
        "retainer.audit", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="audit_id.company_id", store=True, precompute=True
    )
    asset_id = fields.Many2one(
        "retainer.audit.line",
        domain="[('audit_id', '=', audit_id)]",
        help="Leave empty for a finding about the whole estate.",
    )
    severity = fields.Selection(SEVERITY_SELECTION, required=True)
    name = fields.Text(string="What was found", required=True)
    recommendation = fields.Text()

    @api.constrains("asset_id", "audit_id")
    def _check_asset(self):
        for finding in self:
            if finding.asset_id and finding.asset_id.audit_id != finding.audit_id:
                raise ValidationError(
                    self.env._(
                        "Asset %(asset)s is not one of the assets of %(audit)s.",
                        asset=finding.asset_id.name,
                        audit=finding.audit_id.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        labels = ", ".join(label for _value, label in SEVERITY_SELECTION)
        for vals in vals_list:
            if vals.get("severity") not in SEVERITY_RANK:
                raise ValidationError(
                    self.env._(
                        "A finding needs a severity (%(severities)s).",
                        severities=labels,
                    )
                )
            if not (vals.get("name") or "").strip():
                raise ValidationError(
                    self.env._("A finding needs a description of what was found.")
                )
        self.env["retainer.audit"].browse(
            [vals["audit_id"] for vals in vals_list if vals.get("audit_id")]
        )._retainer_check_editable()
        return super().create(vals_list)

    def write(self, vals):
        if "severity" in vals and vals["severity"] not in SEVERITY_RANK:
            raise ValidationError(
                self.env._(
                    "A finding needs a severity (%(severities)s).",
                    severities=", ".join(label for _v, label in SEVERITY_SELECTION),
                )
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


class ResCompany(models.Model):
    _inherit = "res.company"

    retainer_audit_ack_required = fields.Boolean(
        string="Audit acknowledged by the customer",
        help="A retainer in audit becomes active when staff complete the audit "
        "and the customer has acknowledged it on the portal (a manager may "
        "still waive it, with a reason).",
        groups="base.group_user",
        prefetch="retainer",
    )
    retainer_audit_time = fields.Selection(
        AUDIT_TIME_SELECTION,
        string="Audit time",
        default="free",
        required=True,
        groups="base.group_user",
        prefetch="retainer",
        help="Free: time on an audit's task uses no units and is not billed. "
        "Debited: it is kept off the retainer while the audit runs and "
        "debited when the retainer becomes active. Invoiced: completing the "
        "audit prepares a quotation of the audit product whose delivered "
        "quantity is the time logged on the audit's task, before and after "
        "completion, invoiced as delivered.",
    )
    retainer_audit_product_id = fields.Many2one(
        "product.product",
        string="Audit product",
        domain="[('type', '=', 'service'), ('service_type', '=', 'timesheet'), "
        "('invoice_policy', '=', 'delivery')]",
        groups="base.group_user",
        help="A service invoiced on timesheets: the audit's quotation bills "
        "the time logged on the audit's task.",
        prefetch="retainer",
    )

    @api.constrains("retainer_audit_product_id")
    def _check_retainer_audit_product(self):
        for company in self:
            product = company.retainer_audit_product_id
            if product and (
                product.type != "service"
                or product.service_type != "timesheet"
                or product.invoice_policy != "delivery"
            ):
                raise ValidationError(
                    self.env._(
                        "The audit product %(product)s must be a service invoiced "
                        "on timesheets (Invoicing Policy: Based on Timesheets).",
                        product=product.display_name,
                    )
                )


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    @api.onchange("task_id")
    def _onchange_retainer_asset_warning(self):
        if not self.task_id:
            return None
        message = self.task_id._retainer_unsupported_asset_warning()
        if message:
            return {
                "warning": {"title": self.env._("Audited asset"), "message": message}
            }
        return None

    def _compute_so_line(self):
        # Time on the task of an audit whose time is invoiced bills the
        # audit's order line (the retainer's project itself is not billable).
        result = super()._compute_so_line()
        lines = self.filtered(
            lambda line: (
                line.task_id
                and not line.retainer_id
                and line.project_id.retainer_id
                and not line.is_so_line_edited
                and line._is_not_billed()
            )
        )
        if not lines:
            return result
        # sudo: which audit a task is the task of (see below).
        audits = (
            self.env["retainer.audit"]
            .sudo()
            .search(
                [
                    ("task_id", "in", lines.task_id.ids),
                    ("time_policy", "=", "invoice"),
                    ("sale_line_id", "!=", False),
                ]
            )
        )
        line_by_task = {audit.task_id: audit.sale_line_id for audit in audits}
        for line in lines:
            if line.task_id in line_by_task:
                line.so_line = line_by_task[line.task_id]
        return result

    @api.model
    def _retainer_fill_from_project(self, vals_list, task_type=False):
        """Time on an audit's task stays off the retainer while it costs
        nothing (``free``), is invoiced apart (``invoice``), or waits for
        the retainer to be active (``debit``)."""
        result = super()._retainer_fill_from_project(vals_list, task_type=task_type)
        task_ids = {vals["task_id"] for vals in vals_list if vals.get("task_id")}
        if not task_ids:
            return result
        # sudo: which audit a task is the task of, for whoever logs time on
        # it (the audit names its task; a task cannot claim an audit).
        audits = {
            audit.task_id.id: audit
            for audit in self.env["retainer.audit"]
            .sudo()
            .search([("task_id", "in", list(task_ids))])
        }
        for vals in vals_list:
            audit = audits.get(vals.get("task_id"))
            if not audit or not vals.get("retainer_id"):
                continue
            if audit.time_policy != "debit" or audit.contract_id.state != "active":
                vals["retainer_id"] = False
                vals.pop("retainer_contact_type", None)
        return result
