from odoo.tests import new_test_user

from odoo.addons.defining_retainer_portal.tests.common import RetainerPortalCommon

# 0:37 by telephone: the consultant's call in the tests and the tour.
CALL_HOURS = 37 / 60


class RetainerHelpdeskPortalCommon(RetainerPortalCommon):
    """The portal fixtures (two customers, a portal user and a retainer
    each) with a support project per retainer, a helpdesk team and a
    consultant who logs time on tickets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project = cls._create_project(cls.retainer)
        cls.other_project = cls._create_project(cls.other_retainer)
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {
                "name": "Support desk",
                "show_in_portal": True,
                "allow_timesheet": True,
                "default_project_id": cls.project.id,
            }
        )
        cls.consultant = new_test_user(
            cls.env,
            login="ret_helpdesk_consultant",
            name="Carla Consultant",
            groups="base.group_user,hr_timesheet.group_hr_timesheet_user,"
            "helpdesk_mgmt.group_helpdesk_user",
        )
        cls.consultant_employee = cls.env["hr.employee"].create(
            {"name": "Carla Consultant", "user_id": cls.consultant.id}
        )
        cls.phone_channel = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_channel_phone")
        cls.ticket = cls._create_ticket(
            "Printer offline at reception", cls.portal_user, cls.retainer
        )
        cls.other_ticket = cls._create_ticket(
            "Southfield secret ticket", cls.other_portal_user, cls.other_retainer
        )

    @classmethod
    def _create_ticket(cls, name, user, retainer, **vals):
        project = cls.env["project.project"].search(
            [("retainer_id", "=", retainer.id)], limit=1
        )
        # No tracking: the stage's email to the customer is not the point.
        return (
            cls.env["helpdesk.ticket"]
            .with_context(mail_notrack=True)
            .create(
                {
                    "name": name,
                    "description": f"<p>{name}</p>",
                    "partner_id": user.partner_id.id,
                    "retainer_id": retainer.id,
                    "team_id": cls.team.id,
                    "project_id": project.id,
                    **vals,
                }
            )
        )

    @classmethod
    def _log_call(cls, ticket, hours=CALL_HOURS, name="Call: printer driver"):
        """The consultant logs ``hours`` by telephone on ``ticket``, as they
        would in the backend (project and task given: see the staff side
        of the bridge for the server filling them from the ticket)."""
        return (
            cls.env["account.analytic.line"]
            .with_user(cls.consultant)
            .create(
                {
                    "name": name,
                    "ticket_id": ticket.id,
                    "project_id": ticket.project_id.id,
                    "task_id": ticket.task_id.id,
                    "unit_amount": hours,
                    "retainer_contact_type": "phone",
                }
            )
        )

    def _tickets(self):
        return self.env["helpdesk.ticket"].search([], order="id")
