from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, float_compare

from ..tools.durations import format_duration_human
from ..tools.rounding import units_to_hours
from ..tools.server_values import server_values
from .retainer_ledger_entry import CONTACT_TYPE_SELECTION

# Changing any of these may change what a timesheet costs its retainer (see
# _retainer_usage_fields, which bridges extend).
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
# Derived by the server from the fields above: a value sent by a client is
# dropped, so that what a timesheet costs is never the client's word.
RETAINER_DERIVED_FIELDS = frozenset(
    {
        "retainer_units",
        "retainer_billed_hours",
        "retainer_billed_outside",
        "retainer_incident_ref",
    }
)
# The derived figures of a timesheet that is not on a retainer.
NO_RETAINER_VALUES = {"retainer_units": 0, "retainer_billed_hours": 0.0}
MAX_ENTRY_HOURS = 24


class AccountAnalyticLine(models.Model):
    _name = "account.analytic.line"
    _inherit = ["account.analytic.line", "retainer.server.values.mixin"]

    _retainer_server_fields = RETAINER_DERIVED_FIELDS

    retainer_id = fields.Many2one(
        "retainer.contract",
        compute="_compute_retainer_id",
        store=True,
        readonly=False,
        index="btree_not_null",
        # The company rule is checked by _check_retainer_company, batched
        # and with a message naming the retainer: check_company=True would
        # also read every new line's retainer one by one.
        domain="[('state', '=', 'active'), ('company_id', '=', company_id)]",
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
    # Work whose contact type the retainer's level does not include, in a
    # company that bills it outside the retainer: no units, invoiced as
    # ordinary billable time. Set by the server when the line's retainer or
    # contact type is saved (create(), write()), never by a recomputation:
    # a later change of the company setting or level re-prices nothing.
    retainer_billed_outside = fields.Boolean(
        string="Billed outside the retainer",
        readonly=True,
        copy=False,
        help="The retainer's level does not include this contact type: the "
        "time uses no units and is invoiced like ordinary billable time.",
    )
    # The incident the line is rounded with, when its incident is rounded
    # once (see _retainer_incident_refs): set by the server when the line's
    # debits are synced, empty for time rounded entry by entry.
    retainer_incident_ref = fields.Char(
        string="Incident reference",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    # What the line costs now and, for an incident rounded once, what the
    # whole incident costs: "this call: 0 units, incident total 6 units for
    # 1:35". Read from the ledger anew, like the balance.
    retainer_charged_units = fields.Integer(
        string="Charged (units)",
        compute="_compute_retainer_incident_figures",
        groups="defining_retainer.group_retainer_user",
        help="Units the retainer is charged because of this entry: its own "
        "units, or for an incident rounded once the difference it made.",
    )
    retainer_charged_hours = fields.Float(
        string="Charged (time)",
        compute="_compute_retainer_incident_figures",
        groups="defining_retainer.group_retainer_user",
        help="Billed time the retainer is charged because of this entry (its "
        "charged units as time): summed over an incident's entries, it is "
        "the incident's billed time, once.",
    )
    retainer_incident_units = fields.Integer(
        string="Incident (units)",
        compute="_compute_retainer_incident_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_incident_hours = fields.Float(
        string="Incident time",
        compute="_compute_retainer_incident_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_incident_summary = fields.Char(
        string="Incident",
        compute="_compute_retainer_incident_figures",
        groups="defining_retainer.group_retainer_user",
    )
    # The retainer's balance as it is now, shown to whoever logs time.
    retainer_balance_units = fields.Integer(
        string="Balance (units)",
        compute="_compute_retainer_balance",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_balance_hours = fields.Float(
        string="Balance (hours)",
        compute="_compute_retainer_balance",
        groups="defining_retainer.group_retainer_user",
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

    # An unsaved line takes the contact type of its task; otherwise a type
    # the level includes is kept (or, saved, one billed outside the
    # retainer), and another one becomes the level's usual type. Saved lines
    # get their task's type in create() only, so moving recorded time to
    # another task never re-prices it.
    @api.depends("retainer_id", "task_id")
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
            default = level._default_contact_type()
            targets = defaultdict(list)
            # Read a column at a time: this runs for every new timesheet.
            for line, current, billed_outside in zip(
                lines,
                lines.mapped("retainer_contact_type"),
                lines.mapped("retainer_billed_outside"),
                strict=True,
            ):
                task_type = not line.id and line.task_id.retainer_contact_type
                if task_type:
                    if task_type != current:
                        targets[task_type].append(line.id)
                elif current not in allowed and not (line.id and billed_outside):
                    targets[default].append(line.id)
            for contact_type, ids in targets.items():
                lines.browse(ids).retainer_contact_type = contact_type

    # The balance now, for the retainers of all the lines at once (one
    # grouped read of their ledgers, see retainer.contract._compute_balances).
    # Postings do not invalidate it (that would read every timesheet of the
    # retainer): each request of the web client reads it anew.
    @api.depends("retainer_id")
    def _compute_retainer_balance(self):
        contracts = self.retainer_id._origin
        if not contracts:
            self.retainer_balance_units = 0
            self.retainer_balance_hours = 0.0
            return
        balances = {
            contract.id: (contract.balance_units, contract.balance_hours)
            for contract in contracts
        }
        for line in self:
            units, hours = balances.get(line.retainer_id._origin.id, (0, 0.0))
            line.retainer_balance_units = units
            line.retainer_balance_hours = hours

    @api.depends(
        "retainer_id", "retainer_incident_ref", "unit_amount", "retainer_units"
    )
    def _compute_retainer_incident_figures(self):
        saved = self.filtered(lambda line: line._origin.id and line.retainer_id)
        for line in self - saved:
            line.retainer_charged_units = line.retainer_units
            line.retainer_charged_hours = line.retainer_billed_hours
            line.retainer_incident_units = 0
            line.retainer_incident_hours = 0.0
            line.retainer_incident_summary = False
        if not saved:
            return
        # sudo: sums of units of the lines' own retainers, shown to the
        # retainer users these fields are for (a consultant may not read
        # the ledger itself).
        Ledger = self.env["retainer.ledger.entry"].sudo()
        charged = {
            timesheet.id: (-units, hours)
            for timesheet, units, hours in Ledger._read_group(
                [
                    ("timesheet_id", "in", saved._origin.ids),
                    ("effective_kind", "=", "debit"),
                ],
                ["timesheet_id"],
                ["units:sum", "billed_hours:sum"],
            )
        }
        keys = {
            (line.retainer_id._origin.id, line.retainer_incident_ref)
            for line in saved
            if line.retainer_incident_ref
        }
        incident_units = {}
        incident_hours = {}
        if keys:
            contract_ids = list({key[0] for key in keys})
            refs = list({key[1] for key in keys})
            for contract, ref, units in Ledger._read_group(
                [
                    ("contract_id", "in", contract_ids),
                    ("incident_ref", "in", refs),
                    ("effective_kind", "=", "debit"),
                    ("rounding_scope", "=", "incident"),
                ],
                ["contract_id", "incident_ref"],
                ["units:sum"],
            ):
                incident_units[contract.id, ref] = -units
            for contract, ref, hours in self.sudo()._read_group(
                [
                    ("retainer_id", "in", contract_ids),
                    ("retainer_incident_ref", "in", refs),
                    ("retainer_billed_outside", "=", False),
                ],
                ["retainer_id", "retainer_incident_ref"],
                ["unit_amount:sum"],
            ):
                incident_hours[contract.id, ref] = hours
        for line in saved:
            own, own_hours = charged.get(line._origin.id, (0, 0.0))
            line.retainer_charged_units = own
            line.retainer_charged_hours = own_hours
            key = (line.retainer_id._origin.id, line.retainer_incident_ref)
            if not line.retainer_incident_ref:
                line.retainer_incident_units = own
                line.retainer_incident_hours = line.unit_amount
                line.retainer_incident_summary = False
                continue
            units = incident_units.get(key, 0)
            hours = incident_hours.get(key, 0.0)
            line.retainer_incident_units = units
            line.retainer_incident_hours = hours
            line.retainer_incident_summary = self.env._(
                "This entry: %(own)s units, incident total %(units)s units for "
                "%(hours)s",
                own=own,
                units=units,
                hours=format_duration_human(hours),
            )

    # The contract's policy is read when the duration or retainer changes,
    # not tracked: a later policy change never re-prices recorded time.
    @api.depends(
        "unit_amount", "retainer_id", "retainer_contact_type", "retainer_billed_outside"
    )
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
            # Read a column at a time and assign per distinct result: this
            # runs for every new timesheet.
            ids_by_units = defaultdict(list)
            units_by_duration = {}  # the same durations come again and again
            for line_id, hours, contact_type, billed_outside in zip(
                lines._ids,
                lines.mapped("unit_amount"),
                lines.mapped("retainer_contact_type"),
                lines.mapped("retainer_billed_outside"),
                strict=True,
            ):
                if hours <= 0 or billed_outside:
                    units = 0
                elif (hours, contact_type) in units_by_duration:
                    units = units_by_duration[hours, contact_type]
                else:
                    units = units_by_duration[hours, contact_type] = count(
                        hours, contact_type
                    )
                ids_by_units[units].append(line_id)
            for units, ids in ids_by_units.items():
                same = lines.browse(ids)
                same.retainer_units = units
                same.retainer_billed_hours = units_to_hours(units, unit_minutes)

    @api.depends("retainer_id", "retainer_billed_outside")
    def _compute_so_line(self):
        # Time paid by a retainer is never billed again through an order
        # line; time billed outside it is billed as any other time.
        if not self.retainer_id:
            return super()._compute_so_line()
        retainer_lines = self.filtered(
            lambda line: line.retainer_id and not line.retainer_billed_outside
        )
        retainer_lines.so_line = False
        return super(AccountAnalyticLine, self - retainer_lines)._compute_so_line()

    # === ONCHANGE METHODS === #

    # Advisory only, never blocks: on save, the posting applies the
    # retainer's rules (a blocked retainer refuses whatever the client sent).
    @api.onchange(
        "unit_amount", "retainer_id", "retainer_contact_type", "project_id", "task_id"
    )
    def _onchange_retainer_warning(self):
        # What saving will decide, shown before (unchanged for a saved line
        # whose retainer and contact type stay).
        contract = self.retainer_id._origin
        saved = self._origin
        if (
            saved
            and saved.retainer_id == contract
            and saved.retainer_contact_type == self.retainer_contact_type
        ):
            self.retainer_billed_outside = saved.retainer_billed_outside
        else:
            self.retainer_billed_outside = self._retainer_outside_level_billed(
                contract, self.retainer_contact_type
            )
        message = self._retainer_level_warning() or self._retainer_overdraft_warning()
        if message:
            return {"warning": {"title": self.env._("Retainer"), "message": message}}
        return None

    @api.depends("retainer_billed_outside")
    def _compute_timesheet_invoice_type(self):
        # Time billed outside the retainer without an order line is billed by
        # the retainer's own invoice of such time (see
        # retainer.contract._retainer_invoice_outside_level), not "non
        # billable".
        result = super()._compute_timesheet_invoice_type()
        # One column read: time billed outside the level is rare.
        if not any(self.mapped("retainer_billed_outside")):
            return result
        self.filtered(
            lambda line: line.retainer_billed_outside and not line.so_line
        ).timesheet_invoice_type = "billable_manual"
        return result

    # === CONSTRAINT METHODS === #

    @api.constrains("retainer_id", "company_id")
    def _check_retainer_company(self):
        # Batched reads first: timesheets come by thousands, in one company.
        contracts = self.retainer_id
        if not contracts or (
            len(self.company_id) == 1 and contracts.company_id == self.company_id
        ):
            return
        for line in self.filtered(lambda line: line.retainer_id):
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
        vals_list = self._retainer_client_vals_list(vals_list)
        self._retainer_fill_from_project(vals_list, task_type=True)
        self._retainer_fill_billed_outside(vals_list)
        for vals in vals_list:
            if not vals.get("retainer_id"):
                # What the computes would give a line without a retainer,
                # given at once (project_id, computed by hr_timesheet, keeps
                # these fields from being precomputed).
                vals.update(NO_RETAINER_VALUES)
                vals.setdefault("retainer_contact_type", False)
        # The retainers' posting lock first: its query also reads what the
        # save needs of them and of their levels (one query, not three).
        contract_ids = {
            vals["retainer_id"] for vals in vals_list if vals.get("retainer_id")
        }
        locked = (
            self.env["retainer.contract"].browse(sorted(contract_ids))._lock_for_usage()
        )
        with server_values():  # the derived figures given above
            lines = super().create(vals_list)
        # Odoo marks the given read-only computed figures to compute again
        # (only editable or precomputed ones are protected): they are final
        # for lines without a retainer, so nothing is computed or UPDATEd.
        plain_lines = lines.browse(
            [
                line_id
                for line_id, vals in zip(lines._ids, vals_list, strict=True)
                if not vals.get("retainer_id")
            ]
        )
        for fname in NO_RETAINER_VALUES:
            self.env.remove_to_compute(self._fields[fname], plain_lines)
        lines._retainer_sync_debits(new=True, locked=locked)
        return lines

    def write(self, vals):
        vals = self._retainer_client_vals(vals)
        if self._retainer_usage_fields().isdisjoint(vals):
            return super().write(vals)
        explicit_retainer = "retainer_id" in vals
        if "project_id" in vals or "task_id" in vals:
            # A timesheet moved by hand follows its new project's retainer.
            self._retainer_fill_from_project([vals])
        moved = self._retainer_moved_lines(vals)
        if moved:
            if explicit_retainer:
                moved._retainer_check_retainer_of_project(vals)
            moved._retainer_check_move_right(vals["retainer_id"])
        previous = self.filtered(lambda line: line.retainer_id)
        previous._retainer_check_usage_can_change()
        # The incidents rounded once the lines leave are re-targeted too.
        incidents_before = {
            line.id: (line.retainer_id.id, ref)
            for line, ref in zip(
                previous, previous.mapped("retainer_incident_ref"), strict=True
            )
            if ref
        }
        result = super().write(vals)
        if "retainer_id" in vals or "retainer_contact_type" in vals:
            with server_values():
                for flag, lines in self._retainer_billed_outside_changes().items():
                    lines.write({"retainer_billed_outside": flag})
        (previous | self.filtered(lambda line: line.retainer_id))._retainer_sync_debits(
            reason=moved and self._retainer_move_reason(vals),
            incidents_before=incidents_before,
        )
        return result

    def unlink(self):
        retainer_lines = self.filtered(lambda line: line.retainer_id)
        if retainer_lines:
            retainer_lines._retainer_check_usage_can_change()
            Ledger = self.env["retainer.ledger.entry"]
            debits = Ledger._retainer_active_debits(retainer_lines)
            # Incidents rounded once lose the lines: re-targeted without
            # them, before they go (the corrections name them and their date).
            cause_by_incident = {}
            for line, ref in zip(
                retainer_lines,
                retainer_lines.mapped("retainer_incident_ref"),
                strict=True,
            ):
                if ref:
                    cause_by_incident[line.retainer_id.id, ref] = line
            reverse, new_vals = self._retainer_incident_plan(
                cause_by_incident, exclude_ids=retainer_lines.ids
            )
            if debits or reverse or new_vals:
                Ledger._post(
                    new_vals,
                    reverse=debits | reverse,
                    reason=self.env._("Timesheet deleted"),
                )
        return super().unlink()

    # === HOOKS === #

    @api.model
    def _retainer_usage_fields(self):
        """Return the names of the fields whose change may change what a
        timesheet costs its retainer: writing one of them re-checks and
        re-posts the line. Extend it (with ``super()``) for a field an
        extension makes part of the cost."""
        return set(RETAINER_USAGE_FIELDS)

    def _retainer_incident_refs(self):
        """Return the incident of each line of ``self``, in order, as
        ``"model,id"``: the work its time is part of (the task when it has
        one, else the line itself). Extend it (with ``super()``) where an
        extension knows a better incident for some lines."""
        return [
            f"project.task,{line.task_id.id}"
            if line.task_id
            else f"account.analytic.line,{line.id}"
            for line in self
        ]

    @api.model
    def _retainer_fill_from_project(self, vals_list, task_type=False):
        """Set ``retainer_id`` in each of ``vals_list`` that names a project
        or task but no retainer: the retainer of that project (batched).
        With ``task_type`` (new timesheets), a retainer timesheet of a task
        without contact type also takes the task's."""
        todo = [
            vals
            for vals in vals_list
            if "retainer_id" not in vals
            or (task_type and vals.get("task_id") and vals.get("retainer_id"))
        ]
        if not todo:
            return
        # sudo: only reads which retainer covers a project the caller logs
        # time on; hr_timesheet reads projects and tasks the same way.
        tasks = (
            self.env["project.task"]
            .sudo()
            .browse({vals["task_id"] for vals in todo if vals.get("task_id")})
        )
        retainer_by_task = {task.id: task.project_id.retainer_id.id for task in tasks}
        projects = (
            self.env["project.project"]
            .sudo()
            .browse({vals["project_id"] for vals in todo if vals.get("project_id")})
        )
        # Per project, not per line: timesheets are created by thousands.
        retainer_by_project = {
            project.id: project.retainer_id.id for project in projects
        }
        for vals in todo:
            if "retainer_id" in vals:
                retainer_id = vals["retainer_id"]
            elif vals.get("project_id"):
                retainer_id = retainer_by_project[vals["project_id"]]
            elif vals.get("task_id"):
                retainer_id = retainer_by_task[vals["task_id"]]
            elif "project_id" in vals:
                retainer_id = False  # no longer a timesheet
            else:
                continue
            vals["retainer_id"] = retainer_id
            # Time logged on a task is delivered the task's way by default
            # (read for retainer time only: plain time costs nothing more).
            if (
                task_type
                and retainer_id
                and vals.get("task_id")
                and "retainer_contact_type" not in vals
            ):
                contact_type = tasks.browse(vals["task_id"]).retainer_contact_type
                if contact_type:
                    vals["retainer_contact_type"] = contact_type

    # === MOVES BETWEEN RETAINERS === #

    def _retainer_moved_lines(self, vals):
        """The lines of ``self`` that ``vals`` (a write, its retainer
        filled from the project) charges to another retainer, or takes off
        their retainer, or puts on one."""
        if "retainer_id" not in vals:
            return self.browse()
        target_id = vals["retainer_id"] or False
        return self.filtered(lambda line: line.retainer_id.id != target_id)

    def _retainer_check_retainer_of_project(self, vals):
        """A line is charged to the retainer of its own project, nothing
        else: refuse a retainer written on ``self`` that is not its
        project's.

        :raises ValidationError:
        """
        target = self.env["retainer.contract"].browse(vals["retainer_id"])
        if "project_id" in vals:
            projects = self.env["project.project"].browse(vals["project_id"])
            # sudo: reads which retainer covers the project, as
            # _retainer_fill_from_project.
            wrong = self if projects.sudo().retainer_id != target else self.browse()
        else:
            wrong = self.filtered(
                lambda line: line.project_id.sudo().retainer_id != target
            )
        for line in wrong[:1]:
            project = (
                self.env["project.project"].browse(vals["project_id"])
                if "project_id" in vals
                else line.project_id
            )
            raise ValidationError(
                self.env._(
                    "Timesheet %(timesheet)s is on project %(project)s, so it is "
                    "charged to %(retainer)s (time is charged to the retainer of "
                    "its project): move it to a project of %(target)s instead.",
                    timesheet=line.name,
                    project=project.display_name or self.env._("no project"),
                    # sudo: the project's retainer is named in the message,
                    # whoever reads the project.
                    retainer=self._retainer_label(project.sudo().retainer_id),
                    target=self._retainer_label(target),
                )
            )

    def _retainer_check_move_right(self, target_id):
        """Moving recorded time off a retainer, onto one or to another one
        changes what customers are charged: a retainer manager's decision.

        :raises AccessError: naming the first timesheet and the right needed.
        """
        if self.env.su or self.env.user.has_group(
            "defining_retainer.group_retainer_manager"
        ):
            return
        line = self[:1]
        raise AccessError(
            self.env._(
                "Timesheet %(timesheet)s of %(employee)s (%(date)s) is charged "
                "to %(current)s: moving it to %(target)s changes the retainer it "
                "is charged to, which needs the Retainers: Manager right. Ask a "
                "retainer manager to move it.",
                timesheet=line.name,
                # sudo: the name of whoever logged the time, for the message.
                employee=line.sudo().employee_id.name,
                date=line.date,
                current=self._retainer_label(line.retainer_id),
                target=self._retainer_label(
                    self.env["retainer.contract"].browse(target_id)
                ),
            )
        )

    def _retainer_move_reason(self, vals):
        """Why the debits of a move are reversed, kept in the ledger."""
        reason = self.env.context.get("retainer_move_reason")
        if reason:
            return reason
        if "project_id" in vals:
            return self.env._(
                "Moved to project %(project)s by %(user)s",
                project=self.env["project.project"].browse(vals["project_id"]).name
                or self.env._("none"),
                user=self.env.user.name,
            )
        return self.env._(
            "Moved to %(retainer)s by %(user)s",
            retainer=self._retainer_label(
                self.env["retainer.contract"].browse(vals["retainer_id"])
            ),
            user=self.env.user.name,
        )

    def _retainer_follow_moved_tasks(self):
        """Charge the timesheets ``self`` of tasks just moved to another
        project (Odoo moved the timesheets with them) to the retainer of that
        project: their debits are re-posted, the move being the reason.

        Called in sudo by ``project.task.write`` once it checked the user's
        right to move them."""
        for task, lines in self.grouped("task_id").items():
            project = lines.project_id[:1]
            reason = self.env._(
                "Task %(task)s moved to project %(project)s by %(user)s",
                task=task.name,
                project=project.name or self.env._("none"),
                user=self.env.user.name,
            )
            lines.with_context(retainer_move_reason=reason).write(
                {"retainer_id": project.retainer_id.id}
            )

    @api.model
    def _retainer_label(self, contract):
        """``retainer NAME``, or ``no retainer``, for messages."""
        if not contract:
            return self.env._("no retainer")
        # sudo: only the reference is read, for a message to a user who may
        # not read the retainer itself.
        return self.env._("retainer %(retainer)s", retainer=contract.sudo().name)

    @api.model
    def _retainer_fill_billed_outside(self, vals_list):
        """Mark the new timesheets of ``vals_list`` whose contact type their
        retainer's level does not include, in a company that bills such time
        (a computed default type is always included)."""
        todo = [
            vals
            for vals in vals_list
            if vals.get("retainer_id") and vals.get("retainer_contact_type")
        ]
        if not todo:
            return
        contracts = self.env["retainer.contract"].browse(
            {vals["retainer_id"] for vals in todo}
        )
        contract_by_id = {contract.id: contract for contract in contracts}
        for vals in todo:
            vals["retainer_billed_outside"] = self._retainer_outside_level_billed(
                contract_by_id[vals["retainer_id"]], vals["retainer_contact_type"]
            )

    def _retainer_billed_outside_changes(self):
        """``{flag: lines}``: the lines of ``self`` whose
        ``retainer_billed_outside`` must become ``flag`` after a change of
        their retainer or contact type."""
        ids_by_flag = defaultdict(list)
        for line in self:
            flag = self._retainer_outside_level_billed(
                line.retainer_id, line.retainer_contact_type
            )
            if flag != line.retainer_billed_outside:
                ids_by_flag[flag].append(line.id)
        return {flag: self.browse(ids) for flag, ids in ids_by_flag.items()}

    @api.model
    def _retainer_outside_level_billed(self, contract, contact_type):
        """Whether time of ``contact_type`` on ``contract`` is billed outside
        the retainer: its level does not include the type, and its company
        bills such time rather than refusing it."""
        return bool(
            contract
            and contact_type
            and contract.company_id.retainer_outside_level == "bill"
            and contact_type not in contract.level_id._allowed_contact_types()
        )

    # === HOOKS === #

    def _retainer_incident_refs(self):
        """The incident of each line of ``self``, in order: what time is
        rounded together when its retainer rounds each incident once.

        ``"model,id"``: the line's task (``"project.task,7"``), else the line
        itself. A bridge whose lines name a ticket returns the ticket for
        those lines and ``super()``'s answer for the others (add the ticket
        field to :meth:`_retainer_usage_fields` too)."""
        # _origin: the same answer for a line being edited in a form.
        return [
            f"project.task,{line.task_id._origin.id}"
            if line.task_id._origin
            else f"account.analytic.line,{line._origin.id or line.id}"
            for line in self
        ]

    @api.model
    def _retainer_usage_fields(self):
        """Names of the fields whose change may change what a line costs its
        retainer: writing one re-syncs the line's debits. A bridge adds the
        fields its :meth:`_retainer_incident_refs` reads."""
        return set(RETAINER_USAGE_FIELDS)

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
                lines.mapped("retainer_billed_outside"),
                strict=True,
            )
            for hours, contact_type, billed_outside in hours_and_types:
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
                            entered=format_duration_human(hours),
                        )
                    )
                if contact_type not in allowed and not billed_outside:
                    raise ValidationError(
                        self.env._(
                            "Level %(level)s of retainer %(retainer)s does not "
                            "include %(type)s support (it includes: %(allowed)s). "
                            "Pick one of those contact types, or ask for the time "
                            "to be logged on a project without retainer.",
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

    def _retainer_level_warning(self):
        """What staff are told, before saving, of time whose contact type the
        retainer's level does not include; False when it does."""
        self.ensure_one()
        contract = self.retainer_id._origin
        contact_type = self.retainer_contact_type
        if not contract or not contact_type:
            return False
        allowed = contract.level_id._allowed_contact_types()
        if contact_type in allowed:
            return False
        labels = dict(CONTACT_TYPE_SELECTION)
        values = {
            "level": contract.level_id.name,
            "retainer": contract.name,
            "type": labels[contact_type],
        }
        if self.retainer_billed_outside:
            return self.env._(
                "Level %(level)s of retainer %(retainer)s does not include "
                "%(type)s support: this time uses no units and is billed outside "
                "the retainer, like any other billable time.",
                **values,
            )
        return self.env._(
            "Level %(level)s of retainer %(retainer)s does not include %(type)s "
            "support: saving will be refused.",
            **values,
        )

    def _retainer_overdraft_warning(self):
        """What staff are told, before saving, of time that overdraws its
        retainer: it will be refused (``block``) or recorded and notified
        (``warn``). False when the balance covers it or the retainer allows
        overdrafts silently."""
        self.ensure_one()
        contract = self.retainer_id._origin
        if (
            not contract
            or contract.overdraft_policy == "allow"
            or self.retainer_billed_outside
        ):
            return False
        needed = self._retainer_incident_delta()
        saved = self._origin
        if needed is None:
            needed = self.retainer_units
            if saved and saved.retainer_id == contract:
                needed -= saved.retainer_units  # its debit is reversed on save
        balance = contract.balance_units
        if needed <= 0 or balance - needed >= 0:
            return False
        values = {
            "retainer": contract.name,
            "balance": contract._format_units(max(balance, 0)),
            "needed": contract._format_units(needed),
            "after": contract._format_units(balance - needed),
        }
        if contract.overdraft_policy == "block":
            return self.env._(
                "Retainer %(retainer)s has %(balance)s left and this time needs "
                "%(needed)s. Its overdraft policy blocks overdrafts: saving will "
                "be refused. Ask the customer for a top-up, or a retainer manager "
                "can change its overdraft policy.",
                **values,
            )
        return self.env._(
            "Retainer %(retainer)s has %(balance)s left and this time needs "
            "%(needed)s: saving overdraws it (balance after: %(after)s). Its "
            "overdraft policy allows it and tells the account manager and the "
            "customer of the overdraft.",
            **values,
        )

    def _retainer_incident_delta(self):
        """Units saving the line ``self`` (being edited in a form) adds to
        its incident when the incident is rounded once; None when the line
        is rounded entry by entry (a new line without incident of its own).
        Advisory: saving re-targets the incident under the lock."""
        self.ensure_one()
        contract = self.retainer_id._origin
        saved = self._origin
        if not contract or self.retainer_billed_outside:
            return None
        [ref] = self._retainer_incident_refs()
        if not saved and ref.startswith(f"{self._name},"):
            return None  # a line of its own: what it costs alone
        key = (contract.id, ref)
        Ledger = self.env["retainer.ledger.entry"].sudo()
        # sudo: the figures of the line's own retainer, for its warning.
        first = Ledger._retainer_incident_first_scopes([contract.id], [ref]).get(key)
        scope, policy = first or (contract.rounding_scope, None)
        if scope != "incident":
            return None
        domain = [
            ("retainer_id", "=", contract.id),
            ("retainer_incident_ref", "=", ref),
            ("retainer_billed_outside", "=", False),
        ]
        if saved:
            domain.append(("id", "!=", saved.id))
        others = self.sudo().search_fetch(
            domain, ["unit_amount", "retainer_contact_type"]
        )
        entries = list(
            zip(
                others.mapped("unit_amount"),
                others.mapped("retainer_contact_type"),
                strict=True,
            )
        )
        entries.append((max(self.unit_amount, 0.0), self.retainer_contact_type))
        target = contract._retainer_incident_counter(policy)(entries)
        debits = Ledger._retainer_active_incident_debits([contract.id], [ref])
        return target + sum(debits.mapped("units"))

    def _retainer_prepare_debit_vals_list(self, refs=None):
        """Debit values of each line of ``self``, in order, rounded entry by
        entry (``refs``: the lines' incidents, named on the debits). Scalar
        fields are read a column at a time: this runs for every timesheet
        of a batch."""
        columns = zip(
            self.mapped("retainer_units"),
            self.mapped("date"),
            self.mapped("name"),
            self.mapped("retainer_contact_type"),
            self.mapped("unit_amount"),
            refs or [False] * len(self),
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
                "incident_ref": ref,
                "rounding_scope": "entry",
            }
            for line, (units, date, name, contact_type, hours, ref) in zip(
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

    def _retainer_sync_debits(
        self, new=False, reason=None, incidents_before=None, locked=None
    ):
        """Make the ledger hold what the retainer timesheets of ``self``
        cost in their current state, in one posting.

        A line rounded entry by entry has exactly one live debit: an
        outdated one is reversed (for ``reason``, default "Timesheet
        changed") and a new one posted. A line of an incident rounded once
        (see :meth:`_retainer_incident_plan`) has its incident re-targeted,
        and so has the incident it left (``incidents_before``: ``{line id:
        (retainer id, incident)}`` before the change). Runs in a constant
        number of queries for the whole batch. ``locked``: what
        ``retainer.contract._lock_for_usage`` returned when it locked the
        lines' retainers (see ``retainer.ledger.entry._post``)."""
        if new and not self.retainer_id:  # plain time: nothing to read per line
            return
        retainer_lines = self.filtered(lambda line: line.retainer_id)
        Ledger = self.env["retainer.ledger.entry"]
        retainer_lines._retainer_validate()
        refs = retainer_lines._retainer_incident_refs()
        # A new line that is its own incident has had no debit: neither its
        # first scope nor its first policy is looked up.
        fresh_refs = (
            {f"{self._name},{line_id}" for line_id in self.ids} if new else set()
        )
        lines_by_incident = self._retainer_store_incidents(
            dict(zip(retainer_lines.ids, refs, strict=True)), fresh_refs=fresh_refs
        )
        incident_line_ids = set().union(
            *(lines.ids for lines in lines_by_incident.values())
        )
        cause_by_incident = {
            key: lines[-1:] for key, lines in lines_by_incident.items()
        }
        for line_id, key in (incidents_before or {}).items():
            cause_by_incident.setdefault(key, self.browse(line_id))
        live = Ledger if new else Ledger._retainer_active_debits(self)
        live_by_line = {debit.timesheet_id.id: debit for debit in live}
        vals_by_line = {
            line_id: vals
            for line_id, vals in zip(
                retainer_lines.ids,
                retainer_lines._retainer_prepare_debit_vals_list(refs),
                strict=True,
            )
            if line_id not in incident_line_ids
        }
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
            reverse, post = Ledger._reconcile_plan(
                debit,
                vals["units"] if vals else 0,
                lambda _units, vals=vals: vals,
                stale=lambda entry, vals=vals: (
                    not vals or not self._retainer_debit_matches(entry, vals)
                ),
            )
            to_reverse |= reverse
            new_vals += post
        reverse, post = self._retainer_incident_plan(
            cause_by_incident, fresh_refs=fresh_refs
        )
        to_reverse |= reverse
        new_vals += post
        if to_reverse or new_vals:
            Ledger._post(
                new_vals,
                reverse=to_reverse,
                reason=reason or self.env._("Timesheet changed"),
                locked=locked,
            )

    def _retainer_store_incidents(self, ref_by_line, fresh_refs=()):
        """Store on the lines of ``self`` their incident (``ref_by_line``:
        ``{line id: incident}`` of those on a retainer) when it is rounded
        once, clear it on the others, and return ``{(retainer id,
        incident): lines}`` of the incidents rounded once (in one query to
        decide, one to write).

        An incident is rounded the way of its first debit, else the way its
        retainer rounds now: changing a retainer's scope never re-prices
        time already charged (nor does changing its policy: see
        :meth:`_retainer_incident_plan`). The incidents of ``fresh_refs``
        (lines just created that are their own incident) have no debit yet:
        their scope is not read (a single save on a plain retainer project
        reads nothing here)."""
        keys = [
            (line.retainer_id.id, ref_by_line[line.id])
            if line.id in ref_by_line
            else None
            for line in self
        ]
        Ledger = self.env["retainer.ledger.entry"]
        first_scopes = Ledger._retainer_incident_first_scopes(
            {key[0] for key in keys if key and key[1] not in fresh_refs},
            {key[1] for key in keys if key and key[1] not in fresh_refs},
        )
        scope_by_contract = {
            contract.id: contract.rounding_scope for contract in self.retainer_id
        }
        ids_by_incident = defaultdict(list)
        changed_ids, changed_refs = [], []
        for line, key, stored in zip(
            self, keys, self.mapped("retainer_incident_ref"), strict=True
        ):
            first = key and first_scopes.get(key)
            scope = key and (first[0] if first else scope_by_contract[key[0]])
            ref = key[1] if scope == "incident" else None
            if ref:
                ids_by_incident[key].append(line.id)
            if (stored or None) != ref:
                changed_ids.append(line.id)
                changed_refs.append(ref)
        if changed_ids:
            self.flush_recordset(["retainer_incident_ref"])
            self.env.cr.execute(
                SQL(
                    "UPDATE account_analytic_line l SET retainer_incident_ref = t.ref "
                    "FROM unnest(%s::int[], %s::varchar[]) AS t(id, ref) "
                    "WHERE l.id = t.id",
                    changed_ids,
                    changed_refs,
                )
            )
            self.browse(changed_ids).invalidate_recordset(["retainer_incident_ref"])
        return {key: self.browse(ids) for key, ids in ids_by_incident.items()}

    @api.model
    def _retainer_incident_plan(self, cause_by_incident, exclude_ids=(), fresh_refs=()):
        """Plan the postings that bring incidents rounded once to what they
        cost now: ``(debits to reverse, vals of new debits)``.

        Under the retainers' posting lock, taken first and bumped (a
        concurrent posting on the same retainers, having read an older
        ledger, fails to serialize and is retried with this one's lines
        and debits), each incident's target is its lines' time rounded once
        (``retainer.contract._retainer_incident_counter``; time billed
        outside the level stays per line and costs no units). The
        difference with its live debits is posted append-only by
        ``retainer.ledger.entry._reconcile_plan``: debits are reversed (the
        causing line's own first, then the newest) while they exceed the
        target, and a shortfall becomes one new debit naming the incident
        and the line that caused it, dated on that line's date. A debit of
        the causing line dated otherwise than the line is stale (the line
        moved in time). An incident is rounded with the policy of its first
        debit (``rounding_policy``, named again on each new debit), else
        with its retainer's policy now: changing a retainer's policy never
        re-prices an incident already charged.

        :param dict cause_by_incident: ``{(retainer id, incident): line}``,
            the line whose change re-targets the incident.
        :param exclude_ids: lines about to be deleted, left out.
        :param fresh_refs: incidents known to have had no debit (lines just
            created that are their own incident): their first policy is not
            looked up.
        """
        Ledger = self.env["retainer.ledger.entry"]
        if not cause_by_incident:
            return Ledger, []
        contracts = self.env["retainer.contract"].browse(
            sorted({key[0] for key in cause_by_incident})
        )
        contracts._lock_for_posting(bump=True)
        refs = list({key[1] for key in cause_by_incident})
        domain = [
            ("retainer_id", "in", contracts.ids),
            ("retainer_incident_ref", "in", refs),
        ]
        if exclude_ids:
            domain.append(("id", "not in", list(exclude_ids)))
        # The lines are read on this transaction's snapshot: the bumped lock
        # above makes it the latest committed state of these retainers.
        lines = self.search_fetch(
            domain,
            [
                "retainer_id",
                "retainer_incident_ref",
                "unit_amount",
                "retainer_contact_type",
                "retainer_billed_outside",
            ],
        )
        entries = defaultdict(list)
        entered = defaultdict(float)
        for contract_id, ref, hours, contact_type, outside in zip(
            [line.retainer_id.id for line in lines],
            lines.mapped("retainer_incident_ref"),
            lines.mapped("unit_amount"),
            lines.mapped("retainer_contact_type"),
            lines.mapped("retainer_billed_outside"),
            strict=True,
        ):
            if outside:
                continue
            entries[contract_id, ref].append((hours, contact_type))
            entered[contract_id, ref] += hours
        debits = Ledger._retainer_active_incident_debits(contracts.ids, refs)
        live_by_incident = defaultdict(lambda: Ledger)
        policies = {}
        for debit, policy in zip(debits, debits.mapped("rounding_policy"), strict=True):
            key = (debit.contract_id.id, debit.incident_ref)
            live_by_incident[key] |= debit
            policies.setdefault(key, policy)
        # Incidents without live debits may have had some: their first one
        # names the policy (one query, only for them).
        missing = [
            key
            for key in cause_by_incident
            if key not in policies and key[1] not in fresh_refs
        ]
        if missing:
            first = Ledger._retainer_incident_first_scopes(
                {key[0] for key in missing}, {key[1] for key in missing}
            )
            for key in missing:
                policies[key] = first.get(key, (None, None))[1]
        by_id = {contract.id: contract for contract in contracts}
        counters = {}
        to_reverse = Ledger
        new_vals = []
        for (contract_id, ref), cause in cause_by_incident.items():
            key = (contract_id, ref)
            contract = by_id[contract_id]
            policy = policies.get(key) or contract._retainer_policy_key()
            if (contract_id, policy) not in counters:
                counters[contract_id, policy] = contract._retainer_incident_counter(
                    policy
                )
            target = counters[contract_id, policy](entries.get(key, ()))
            live = live_by_incident[key].with_prefetch(debits._prefetch_ids)
            reverse, post = Ledger._reconcile_plan(
                live,
                -target,
                lambda units, key=key, cause=cause, policy=policy: (
                    cause._retainer_incident_debit_vals(key, units, policy)
                ),
                stale=lambda debit, cause=cause: (
                    debit.timesheet_id == cause and debit.date != cause.date
                ),
                first=lambda debit, cause=cause: debit.timesheet_id == cause,
            )
            kept_hours = sum((live - reverse).mapped("entered_hours"))
            for vals in post:
                vals["entered_hours"] = entered.get(key, 0.0) - kept_hours
            to_reverse |= reverse
            new_vals += post
        return to_reverse, new_vals

    def _retainer_incident_debit_vals(self, key, units, policy):
        """Values of a debit of ``units`` (negative) of the incident ``key``
        (``(retainer id, incident)``) caused by the line ``self``, rounded
        with the rounding policy named ``policy``."""
        self.ensure_one()
        return {
            "contract_id": key[0],
            "kind": "debit",
            "units": units,
            "date": self.date,
            "name": self.name,
            "timesheet_id": self.id,
            "employee_id": self.employee_id.id,
            "project_id": self.project_id.id,
            "contact_type": self.retainer_contact_type,
            "incident_ref": key[1],
            "rounding_scope": "incident",
            "rounding_policy": policy,
        }
