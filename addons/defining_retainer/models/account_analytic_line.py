from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_compare, format_duration

from ..tools.rounding import units_to_hours
from .retainer_ledger_entry import CONTACT_TYPE_SELECTION

# Changing any of these may change what a timesheet costs its retainer.
RETAINER_USAGE_FIELDS = {
    "unit_amount",
    "retainer_id",
    "retainer_contact_type",
    "project_id",
    "task_id",
    "date",
    "employee_id",
    "partner_id",
}
MAX_ENTRY_HOURS = 24


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    retainer_id = fields.Many2one(
        "retainer.contract",
        compute="_compute_retainer_id",
        store=True,
        readonly=False,
        index="btree_not_null",
        check_company=True,
        domain="[('state', '=', 'active')]",
    )
    retainer_contact_type = fields.Selection(
        CONTACT_TYPE_SELECTION,
        string="Contact type",
        compute="_compute_retainer_contact_type",
        store=True,
        readonly=False,
    )
    retainer_units = fields.Integer(
        string="Units", compute="_compute_retainer_units", store=True
    )
    retainer_billed_hours = fields.Float(
        string="Billed time", compute="_compute_retainer_units", store=True
    )

    # === COMPUTE METHODS === #

    # Saved timesheets get their retainer in create() and write() only: a
    # recompute (a task moved to another project, a retainer later linked to
    # or removed from the project) never moves time already recorded. The
    # compute serves the form, where an unsaved line follows its project.
    @api.depends("project_id")
    def _compute_retainer_id(self):
        for project, lines in self.grouped("project_id").items():
            lines.filtered(lambda line: not line.id).retainer_id = project.retainer_id

    @api.depends("retainer_id")
    def _compute_retainer_contact_type(self):
        if not self.retainer_id:  # no line on a retainer: no grouping by line
            self.retainer_contact_type = False
            return
        for contract, lines in self.grouped("retainer_id").items():
            level = contract.level_id
            if not level:
                lines.retainer_contact_type = False
                continue
            allowed = level._allowed_contact_types()
            outside = lines.browse(
                line.id for line in lines if line.retainer_contact_type not in allowed
            )
            outside.retainer_contact_type = level._default_contact_type()

    # The contract's policy is read when the duration or retainer changes,
    # not tracked: a later policy change never re-prices recorded time.
    @api.depends("unit_amount", "retainer_id", "retainer_contact_type")
    def _compute_retainer_units(self):
        if not self.retainer_id:  # no line on a retainer: no grouping by line
            self.retainer_units = 0
            self.retainer_billed_hours = 0.0
            return
        for contract, lines in self.grouped("retainer_id").items():
            if not contract:
                lines.retainer_units = 0
                lines.retainer_billed_hours = 0.0
                continue
            count = contract._retainer_unit_counter()
            unit_minutes = contract.rounding_unit_minutes
            for line in lines:
                hours = line.unit_amount
                units = count(hours, line.retainer_contact_type) if hours > 0 else 0
                line.retainer_units = units
                line.retainer_billed_hours = units_to_hours(units, unit_minutes)

    @api.depends("retainer_id")
    def _compute_so_line(self):
        # Time paid by a retainer is never billed again through an order line.
        if not self.retainer_id:
            return super()._compute_so_line()
        retainer_lines = self.filtered(lambda line: line.retainer_id)
        retainer_lines.so_line = False
        return super(AccountAnalyticLine, self - retainer_lines)._compute_so_line()

    # === CONSTRAINT METHODS === #

    @api.constrains("retainer_id", "company_id")
    def _check_retainer_company(self):
        # Checked before Odoo's generic company check, to name the rule.
        for line in self.filtered("retainer_id"):
            if line.company_id != line.retainer_id.company_id:
                raise ValidationError(
                    self.env._(
                        "Timesheet %(line)s is in %(company)s but retainer "
                        "%(retainer)s belongs to %(other)s.",
                        line=line.name,
                        company=line.company_id.name,
                        retainer=line.retainer_id.name,
                        other=line.retainer_id.company_id.name,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        self._retainer_fill_from_project(vals_list)
        lines = super().create(vals_list)
        lines._retainer_sync_debits(new=True)
        return lines

    def write(self, vals):
        if not RETAINER_USAGE_FIELDS.intersection(vals):
            return super().write(vals)
        if "project_id" in vals or "task_id" in vals:
            # A timesheet moved by hand follows its new project's retainer.
            self._retainer_fill_from_project([vals])
        previous = self.filtered(lambda line: line.retainer_id)
        previous._retainer_check_usage_can_change()
        result = super().write(vals)
        (
            previous | self.filtered(lambda line: line.retainer_id)
        )._retainer_sync_debits()
        return result

    def unlink(self):
        retainer_lines = self.filtered(lambda line: line.retainer_id)
        if retainer_lines:
            retainer_lines._retainer_check_usage_can_change()
            debits = self.env["retainer.ledger.entry"]._retainer_active_debits(
                retainer_lines
            )
            debits._reverse(reason=self.env._("Timesheet deleted"))
        return super().unlink()

    @api.model
    def _retainer_fill_from_project(self, vals_list):
        """Set ``retainer_id`` in each of ``vals_list`` that names a project
        or task but no retainer: the retainer of that project (batched)."""
        todo = [vals for vals in vals_list if "retainer_id" not in vals]
        if not todo:
            return
        # sudo: only reads which retainer covers a project the caller logs
        # time on; hr_timesheet reads projects and tasks the same way.
        tasks = (
            self.env["project.task"]
            .sudo()
            .browse({vals["task_id"] for vals in todo if vals.get("task_id")})
        )
        project_by_task = {task.id: task.project_id for task in tasks}
        projects = (
            self.env["project.project"]
            .sudo()
            .browse({vals["project_id"] for vals in todo if vals.get("project_id")})
        )
        project_by_id = {project.id: project for project in projects}
        for vals in todo:
            if vals.get("project_id"):
                project = project_by_id[vals["project_id"]]
            elif vals.get("task_id"):
                project = project_by_task[vals["task_id"]]
            elif "project_id" in vals:
                project = projects.browse()  # no longer a timesheet
            else:
                continue
            vals["retainer_id"] = project.retainer_id.id

    # === HOOKS === #

    def _is_readonly(self):
        return super()._is_readonly() or bool(
            self.retainer_id
            and (self.retainer_id.state != "active" or self._retainer_date_locked())
        )

    # === BUSINESS METHODS === #

    def _retainer_date_locked(self):
        self.ensure_one()
        lock = self.retainer_id.usage_lock_date
        return bool(lock and self.date and self.date <= lock)

    def _retainer_check_usage_can_change(self):
        """Raise unless the usage these lines record on their retainer may
        change: the retainer is active and the date is after its lock date."""
        for contract, lines in self.grouped("retainer_id").items():
            if contract.state != "active":
                state = dict(
                    contract._fields["state"]._description_selection(self.env)
                )[contract.state]
                raise UserError(
                    self.env._(
                        "Retainer %(retainer)s is %(state)s: time on it cannot be "
                        "logged, changed or deleted.",
                        retainer=contract.name,
                        state=state.lower(),
                    )
                )
            lock = contract.usage_lock_date
            locked = lock and next(
                (line for line in lines if line._retainer_date_locked()), None
            )
            if locked:
                raise UserError(
                    self.env._(
                        "Usage of retainer %(retainer)s is locked up to %(date)s: "
                        "time dated %(line_date)s cannot be logged, changed or "
                        "deleted.",
                        retainer=contract.name,
                        date=lock,
                        line_date=locked.date,
                    )
                )

    def _retainer_validate(self):
        """Check the new state of retainer timesheets before debiting them."""
        self._retainer_check_usage_can_change()
        labels = dict(CONTACT_TYPE_SELECTION)
        max_seconds = MAX_ENTRY_HOURS * 3600
        for contract, lines in self.grouped("retainer_id").items():
            allowed = contract.level_id._allowed_contact_types()
            owner = contract.partner_id.commercial_partner_id
            hours_and_types = zip(
                lines.mapped("unit_amount"),
                lines.mapped("retainer_contact_type"),
                strict=True,
            )
            for hours, contact_type in hours_and_types:
                seconds = round(hours * 3600)
                if seconds < 0:
                    raise ValidationError(
                        self.env._(
                            "A timesheet on a retainer cannot have a negative duration."
                        )
                    )
                if seconds > max_seconds:
                    raise ValidationError(
                        self.env._(
                            "A single timesheet cannot last more than %(max)s "
                            "hours (%(entered)s entered): split it by day.",
                            max=MAX_ENTRY_HOURS,
                            entered=format_duration(hours),
                        )
                    )
                if contact_type not in allowed:
                    raise ValidationError(
                        self.env._(
                            "Level %(level)s of retainer %(retainer)s does not "
                            "include %(type)s support (it includes: %(allowed)s).",
                            level=contract.level_id.name,
                            retainer=contract.name,
                            type=labels.get(contact_type, "?"),
                            allowed=", ".join(labels[t] for t in allowed) or "-",
                        )
                    )
            # The customer of a line is its partner, else its project's.
            for partner, by_partner in lines.grouped("partner_id").items():
                customers = partner or by_partner.project_id.partner_id
                foreign = customers.commercial_partner_id - owner
                if foreign:
                    raise ValidationError(
                        self.env._(
                            "Retainer %(retainer)s belongs to %(owner)s, not to "
                            "%(customer)s.",
                            retainer=contract.name,
                            owner=owner.display_name,
                            customer=foreign[0].display_name,
                        )
                    )

    def _retainer_prepare_debit_vals_list(self):
        """Debit values of each line of ``self``, in order. Scalar fields are
        read a column at a time: this runs for every timesheet of a batch."""
        columns = zip(
            self.mapped("retainer_units"),
            self.mapped("date"),
            self.mapped("name"),
            self.mapped("retainer_contact_type"),
            self.mapped("unit_amount"),
            strict=True,
        )
        return [
            {
                "contract_id": line.retainer_id.id,
                "kind": "debit",
                "units": -units,
                "date": date,
                "name": name,
                "timesheet_id": line.id,
                "employee_id": line.employee_id.id,
                "project_id": line.project_id.id,
                "contact_type": contact_type,
                "entered_hours": hours,
            }
            for line, (units, date, name, contact_type, hours) in zip(
                self, columns, strict=True
            )
        ]

    @api.model
    def _retainer_debit_matches(self, debit, vals):
        return (
            debit.contract_id.id == vals["contract_id"]
            and debit.units == vals["units"]
            and debit.date == vals["date"]
            and debit.employee_id.id == vals["employee_id"]
            and debit.project_id.id == vals["project_id"]
            and debit.contact_type == vals["contact_type"]
            and not float_compare(debit.entered_hours, vals["entered_hours"], 6)
        )

    def _retainer_sync_debits(self, new=False):
        """Make the ledger hold exactly one live debit per retainer timesheet
        of ``self``, matching its current state: an outdated debit is
        reversed and a new one posted. Runs in a constant number of queries
        for the whole batch."""
        if new and not self.retainer_id:  # plain time: nothing to read per line
            return
        retainer_lines = self.filtered(lambda line: line.retainer_id)
        Ledger = self.env["retainer.ledger.entry"]
        retainer_lines._retainer_validate()
        live = Ledger if new else Ledger._retainer_active_debits(self)
        live_by_line = {debit.timesheet_id.id: debit for debit in live}
        vals_by_line = dict(
            zip(
                retainer_lines.ids,
                retainer_lines._retainer_prepare_debit_vals_list(),
                strict=True,
            )
        )
        to_reverse = Ledger
        new_vals = []
        for line_id in self.ids:
            vals = vals_by_line.get(line_id)
            debit = live_by_line.get(line_id)
            if not debit:
                # New time (the usual case, thousands per batch): no helper.
                if vals and vals["units"]:
                    new_vals.append(vals)
                continue
            reverse, post = Ledger._retainer_reconcile(
                debit,
                vals["units"] if vals else 0,
                lambda _units, vals=vals: vals,
                stale=lambda entry, vals=vals: (
                    not vals or not self._retainer_debit_matches(entry, vals)
                ),
            )
            to_reverse |= reverse
            new_vals += post
        if to_reverse or new_vals:
            Ledger._post(
                new_vals, reverse=to_reverse, reason=self.env._("Timesheet changed")
            )
