from odoo import api, fields, models


class HelpdeskTicketSla(models.Model):
    _inherit = "helpdesk.ticket.sla"

    calendar_id = fields.Many2one(
        "resource.calendar",
        string="Cover hours",
        compute="_compute_calendar_id",
        store=True,
        help="The hours in which the deadline runs: the cover hours of the "
        "ticket retainer's level, else the team's working hours.",
    )

    @api.depends(
        "ticket_id.retainer_id.level_id.sla_calendar_id",
        "ticket_id.team_id.resource_calendar_id",
    )
    def _compute_calendar_id(self):
        for record in self:
            record.calendar_id = record.ticket_id._retainer_sla_calendar()

    def _retainer_own_calendar(self):
        """The records of ``self`` whose calendar is not their team's (the
        cover hours of a support level)."""
        return self.filtered(
            lambda record: (
                record.calendar_id
                and record.calendar_id != record.ticket_id.team_id.resource_calendar_id
            )
        )

    @api.depends("sla_id", "calendar_id")
    def _compute_sla_data(self):
        result = super()._compute_sla_data()
        for record in self._retainer_own_calendar():
            record.hours = (
                record.sla_id.hours
                + record.calendar_id.hours_per_day * record.sla_id.days
            )
        return result

    @api.depends(
        "hours", "consumed_time", "ticket_id", "last_state_date", "state", "calendar_id"
    )
    def _compute_deadline(self):
        own = self._retainer_own_calendar()
        result = super(HelpdeskTicketSla, self - own)._compute_deadline()
        for record in own:
            if record.state in ["accomplished", "expired"] and record.deadline:
                continue  # a past deadline is kept, as helpdesk_mgmt_sla does
            start = record.last_state_date or record.ticket_id.create_date
            record.deadline = record.calendar_id.plan_hours(
                record.hours - record.consumed_time, start, compute_leaves=True
            )
        return result

    def _stage_recompute(self):
        # helpdesk_mgmt_sla counts the time spent in progress on the team's
        # calendar: for the cover hours of a level, the difference is
        # corrected.
        own = self.state == "in_progress" and self._retainer_own_calendar()
        if not own:
            return super()._stage_recompute()
        start = self.last_state_date
        consumed = self.consumed_time
        result = super()._stage_recompute()
        now = self.last_state_date
        self.consumed_time = consumed + self.calendar_id.get_work_hours_count(
            start, now, compute_leaves=True
        )
        return result
