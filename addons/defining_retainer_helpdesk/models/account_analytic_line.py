from odoo import api, models


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    # === COMPUTE METHODS === #

    # An unsaved line of a ticket takes the ticket's contact type (before
    # its task's): explicit value > ticket > task > level default.
    @api.depends("retainer_id", "task_id", "ticket_id")
    def _compute_retainer_contact_type(self):
        result = super()._compute_retainer_contact_type()
        for line in self.filtered(lambda line: not line.id and line.ticket_id):
            contact_type = line.ticket_id.retainer_contact_type
            level = line.retainer_id.level_id
            if level and contact_type in level._allowed_contact_types():
                line.retainer_contact_type = contact_type
        return result

    # === ONCHANGE METHODS === #

    @api.onchange("ticket_id")
    def _onchange_retainer_ticket_asset_warning(self):
        if not self.ticket_id:
            return None
        message = self.ticket_id._retainer_unsupported_asset_warning()
        if message:
            return {
                "warning": {"title": self.env._("Audited asset"), "message": message}
            }
        return None

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        self._retainer_fill_from_ticket(vals_list, new=True)
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("ticket_id") and "project_id" not in vals:
            # Time moved to another ticket goes to that ticket's project and
            # task: the retainer's move rule applies (see the core's write).
            vals = dict(vals)
            self._retainer_fill_from_ticket([vals])
        return super().write(vals)

    # === HOOKS === #

    @api.model
    def _retainer_usage_fields(self):
        return super()._retainer_usage_fields() | {"ticket_id"}

    def _retainer_incident_refs(self):
        refs = super()._retainer_incident_refs()
        return [
            f"helpdesk.ticket,{line.ticket_id.id}" if line.ticket_id else ref
            for line, ref in zip(self, refs, strict=True)
        ]

    # === BUSINESS METHODS === #

    @api.model
    def _retainer_fill_from_ticket(self, vals_list, new=False):
        """Give the lines of ``vals_list`` that name a ticket their ticket's
        project and task (a line created with only ``ticket_id``: import,
        RPC, timer), and, new ones, the ticket's contact type unless one is
        given. Refuse time on a ticket whose customer has several active
        retainers while none is chosen."""
        todo = [vals for vals in vals_list if vals.get("ticket_id")]
        if not todo:
            return
        # sudo: reads where a ticket's time goes (its project, task and
        # contact type), as hr_timesheet reads projects and tasks: a
        # timesheet user logs time on a ticket of a project (as in
        # helpdesk_mgmt_timesheet) without being a helpdesk user. The line
        # itself is created with the user's rights (companies, projects).
        tickets = (
            self.env["helpdesk.ticket"]
            .sudo()
            .browse({vals["ticket_id"] for vals in todo})
        )
        tickets._retainer_check_timesheet_retainer()
        by_id = {ticket.id: ticket for ticket in tickets}
        for vals in todo:
            ticket = by_id[vals["ticket_id"]]
            if not vals.get("project_id"):
                vals["project_id"] = ticket.project_id.id
                if "task_id" not in vals:
                    vals["task_id"] = ticket.task_id.id
            if (
                new
                and ticket.retainer_contact_type
                and "retainer_contact_type" not in vals
                and ticket.project_id.id == vals.get("project_id")
            ):
                vals["retainer_contact_type"] = ticket.retainer_contact_type
