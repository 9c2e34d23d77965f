from odoo import api, fields, models

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
