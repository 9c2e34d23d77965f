from odoo.tests import new_test_user

from odoo.addons.defining_retainer.tests.common import RetainerCommon


class HelpdeskRetainerCommon(RetainerCommon):
    """The core's retainer fixtures plus a support team that logs time, its
    channels and the users of the support desk: a helpdesk user who logs
    time (consultant), a helpdesk user without timesheet rights and a
    retainer manager who also works tickets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ticket = cls.env["helpdesk.ticket"]
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {"name": "Test support desk", "allow_timesheet": True}
        )
        cls.phone = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_channel_phone")
        cls.email = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_channel_email")
        cls.web = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_channel_web")
        cls.onsite = cls.env.ref(
            "defining_retainer_helpdesk.helpdesk_ticket_channel_onsite"
        )
        cls.consultant.groups_id |= cls.env.ref("helpdesk_mgmt.group_helpdesk_user")
        cls.manager.groups_id |= cls.env.ref("helpdesk_mgmt.group_helpdesk_user")
        cls.desk_user = new_test_user(
            cls.env,
            login="helpdesk_only",
            groups="helpdesk_mgmt.group_helpdesk_user",
            name="Dana Desk",
        )
        cls.team.user_ids = cls.consultant | cls.manager | cls.desk_user
        cls.task = cls.env["project.task"].create(
            {"name": "Support calls", "project_id": cls.project.id}
        )

    def _ticket(self, partner=None, user=None, **vals):
        """A ticket of ``partner`` (the customer by default) on the team,
        filed by ``user`` (the consultant by default)."""
        return self.Ticket.with_user(user or self.consultant).create(
            {
                "name": "Printer offline",
                "description": "<p>It does not print.</p>",
                "partner_id": (partner or self.customer).id,
                "team_id": self.team.id,
            }
            | vals
        )

    def _log_ticket(self, ticket, hours, user=None, **vals):
        """Log ``hours`` on ``ticket`` as ``user`` with the ticket only."""
        user = user or self.consultant
        employee = self.env["hr.employee"].search([("user_id", "=", user.id)], limit=1)
        return (
            self.env["account.analytic.line"]
            .with_user(user)
            .create(
                {
                    "ticket_id": ticket.id,
                    "name": "Ticket work",
                    "unit_amount": hours,
                    "employee_id": employee.id,
                }
                | vals
            )
        )
