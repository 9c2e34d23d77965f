from odoo import api, fields, models
from odoo.exceptions import AccessError

from .retainer_ledger_entry import CONTACT_TYPE_SELECTION


class ProjectTask(models.Model):
    _inherit = "project.task"

    retainer_id = fields.Many2one(related="project_id.retainer_id")
    retainer_contact_type = fields.Selection(
        CONTACT_TYPE_SELECTION,
        string="Contact type",
        compute="_compute_retainer_contact_type",
        store=True,
        readonly=False,
        help="How this task's work is delivered: new timesheets of the task "
        "take this contact type.",
    )

    # --- Audits: the customer's asset a task is about (see
    # models/retainer_audit.py).
    retainer_asset_id = fields.Many2one(
        "retainer.audit.line",
        string="Audited asset",
        domain="[('contract_id', '=', retainer_id)]",
        groups="base.group_user",
        help="The customer's asset this work is about: staff logging time on "
        "an asset the firm does not support are warned.",
    )
    retainer_asset_category = fields.Selection(
        related="retainer_asset_id.category",
        string="Asset category",
        store=True,
        groups="base.group_user",
    )

    def _retainer_unsupported_asset_warning(self):
        """What staff logging time on this work are told when its asset is
        not (fully) supported; False otherwise. The support desk's tickets
        reuse it for their asset."""
        self.ensure_one()
        # sudo: the asset's status and the catalogue's note, for a
        # consultant who may not read the audit.
        return self.sudo().retainer_asset_id._retainer_unsupported_warning()

    # --- end of audits

    # === COMPUTE METHODS === #

    # A choice the new retainer's level includes is kept; otherwise the
    # level's usual contact type. Time already logged keeps its own type.
    @api.depends("project_id.retainer_id.level_id")
    def _compute_retainer_contact_type(self):
        for level, tasks in self.grouped(
            lambda task: task.project_id.retainer_id.level_id
        ).items():
            if not level:
                tasks.retainer_contact_type = False
                continue
            allowed = level._allowed_contact_types()
            outside = tasks.filtered(
                lambda task, allowed=allowed: task.retainer_contact_type not in allowed
            )
            outside.retainer_contact_type = level._default_contact_type()

    # === CRUD METHODS === #

    def write(self, vals):
        if "project_id" not in vals:
            return super().write(vals)
        moved = self._retainer_timesheets_moved_by(vals["project_id"])
        result = super().write(vals)
        if moved:
            moved._retainer_follow_moved_tasks()
        return result

    # === BUSINESS METHODS === #

    def _retainer_timesheets_moved_by(self, project_id):
        """The timesheets of ``self`` that moving the tasks to ``project_id``
        moves to another retainer (Odoo moves a task's timesheets with it),
        after checking that the user may (a retainer manager).

        :returns: ``account.analytic.line`` in sudo (every timesheet of the
            tasks follows them, whoever logged it).
        :raises AccessError: naming the task and the right needed.
        """
        # sudo: the check must see all the tasks' time, not only the
        # user's own timesheets; nothing is written here.
        project = self.env["project.project"].sudo().browse(project_id)
        target = project.retainer_id
        moved = self.sudo().timesheet_ids.filtered(
            lambda line: line.project_id and line.retainer_id != target
        )
        if not moved or self.env.su:
            return moved
        if self.env.user.has_group("defining_retainer.group_retainer_manager"):
            moved.filtered("retainer_id")._retainer_check_usage_can_change()
            return moved
        line = moved[:1]
        Line = self.env["account.analytic.line"]
        raise AccessError(
            self.env._(
                "Task %(task)s has time charged to %(current)s: moving it to "
                "project %(project)s moves that time to %(target)s, which needs "
                "the Retainers: Manager right. Ask a retainer manager to move the "
                "task, or log the remaining work on a new task.",
                task=line.task_id.name,
                current=Line._retainer_label(line.retainer_id),
                project=project.name or self.env._("none"),
                target=Line._retainer_label(target),
            )
        )
