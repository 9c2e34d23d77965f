from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import HelpdeskRetainerCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketRetainer(HelpdeskRetainerCommon):
    """A ticket knows the retainer of its customer and goes to its support
    project; with several retainers the user chooses."""

    def test_ticket_routed_to_retainer_support_project(self):
        for user in (self.consultant, self.desk_user, self.manager):
            ticket = self._ticket(partner=self.customer_contact, user=user)
            self.assertEqual(ticket.retainer_id, self.contract)
            self.assertEqual(ticket.project_id, self.project)
            self.assertFalse(ticket.retainer_choice_needed)

    def test_ticket_without_retainer_goes_to_team_default_project(self):
        default = self.env["project.project"].create(
            {"name": "Desk time", "allow_timesheets": True}
        )
        self.team.default_project_id = default
        ticket = self._ticket(partner=self.other_customer)
        self.assertFalse(ticket.retainer_id)
        self.assertEqual(ticket.project_id, default)
        # An explicit project is kept.
        ticket = self._ticket(project_id=self.plain_project.id)
        self.assertEqual(ticket.project_id, self.plain_project)

    def test_retainer_not_active_or_other_company_is_not_picked(self):
        self.contract.action_suspend()
        self.assertFalse(self._ticket().retainer_id)
        self.contract.action_reopen()
        company_b = self.env["res.company"].create({"name": "Other Co"})
        self.env["retainer.contract"].create(
            {
                "partner_id": self.customer.id,
                "company_id": company_b.id,
                "level_id": self.level_onsite.id,
            }
        )
        # The retainer of the other company is neither picked nor offered.
        ticket = self._ticket()
        self.assertEqual(ticket.retainer_id, self.contract)
        self.assertEqual(ticket.retainer_candidate_ids, self.contract)

    def test_several_retainers_are_chosen_by_the_user(self):
        second = self._create_contract(self.customer, self.level_phone, units=28)
        second_project = self._create_project(second)
        ticket = self._ticket(partner=self.customer_contact)
        self.assertFalse(ticket.retainer_id)
        self.assertTrue(ticket.retainer_choice_needed)
        self.assertEqual(ticket.retainer_candidate_ids, self.contract | second)
        # Time cannot be logged until the retainer is chosen.
        lines = self.env["account.analytic.line"].search_count([])
        with self.assertRaisesRegex(
            ValidationError,
            r"Customer Quarter Hour Ltd has several active retainers .*choose "
            r"the retainer of ticket .* before logging time on it",
        ):
            self._log_ticket(ticket, 0.5)
        self.assertEqual(self.env["account.analytic.line"].search_count([]), lines)
        ticket.with_user(self.consultant).retainer_id = second
        self.assertEqual(ticket.project_id, second_project)
        self.assertFalse(ticket.retainer_choice_needed)
        line = self._log_ticket(ticket, 0.5)
        self.assertEqual(line.retainer_id, second)

    def test_retainer_of_another_customer_is_refused(self):
        other = self._create_contract(self.other_customer, self.level_phone)
        ticket = self._ticket()
        with self.assertRaisesRegex(
            ValidationError,
            rf"Ticket .* is for Quarter Hour Ltd but retainer {other.name} "
            r"belongs to Elsewhere plc",
        ):
            ticket.retainer_id = other
        self.assertEqual(ticket.retainer_id, self.contract)

    def test_customer_change_reroutes_the_ticket(self):
        other = self._create_contract(self.other_customer, self.level_phone)
        other_project = self._create_project(other)
        ticket = self._ticket()
        ticket.partner_id = self.other_customer
        self.assertEqual(ticket.retainer_id, other)
        self.assertEqual(ticket.project_id, other_project)

    def test_customer_without_retainer_leaves_the_retainer_project(self):
        ticket = self._ticket()
        self.assertEqual(ticket.project_id, self.project)
        ticket.partner_id = self.other_customer
        self.assertFalse(ticket.retainer_id)
        self.assertFalse(ticket.project_id)
        default = self.env["project.project"].create(
            {"name": "Desk time", "allow_timesheets": True}
        )
        self.team.default_project_id = default
        ticket.partner_id = self.customer
        self.assertEqual(ticket.project_id, self.project)
        ticket.partner_id = self.other_customer
        self.assertEqual(ticket.project_id, default)

    def test_form_routes_and_team_change_keeps_the_retainer_project(self):
        default = self.env["project.project"].create(
            {"name": "Desk time", "allow_timesheets": True}
        )
        self.team.default_project_id = default
        other_team = self.env["helpdesk.ticket.team"].create(
            {"name": "Second line", "allow_timesheet": True}
        )
        other_team.default_project_id = default
        form = Form(self.Ticket.with_user(self.consultant))
        form.name = "Screen flickers"
        form.description = "<p>Flicker</p>"
        form.team_id = self.team
        self.assertEqual(form.project_id, default)
        form.partner_id = self.customer_contact
        self.assertEqual(form.retainer_id, self.contract)
        self.assertEqual(form.project_id, self.project)
        form.team_id = other_team
        self.assertEqual(form.project_id, self.project)
        ticket = form.save()
        self.assertEqual(ticket.project_id, self.project)

    def test_ticket_shows_retainer_figures_and_banner(self):
        ticket = self._ticket()
        ticket = ticket.with_user(self.consultant)
        self.assertEqual(ticket.retainer_level_id, self.level_onsite)
        self.assertEqual(ticket.retainer_balance_units, 56)
        self.assertEqual(ticket.retainer_balance_hours, 14.0)
        self.assertEqual(ticket.retainer_balance_days, 2.0)
        self.assertFalse(ticket.retainer_alert)
        self._log_ticket(ticket, 15)  # 60 units: overdrawn by 4
        ticket.invalidate_recordset()
        self.assertEqual(ticket.retainer_balance_units, -4)
        self.assertEqual(ticket.retainer_units, 60)
        self.assertRegex(
            ticket.retainer_alert,
            rf"Retainer {self.contract.name} is overdrawn by 4 units \(1 h\)",
        )
        self.contract.action_suspend()
        ticket.invalidate_recordset()
        self.assertRegex(ticket.retainer_alert, "is suspended")

    def test_ticket_retainer_figures_are_for_retainer_users(self):
        ticket = self._ticket().with_user(self.desk_user)
        self.assertEqual(ticket.retainer_id, self.contract)
        self.assertNotIn("retainer_balance_units", ticket.fields_get())
        as_consultant = ticket.with_user(self.consultant)
        self.assertIn("retainer_balance_units", as_consultant.fields_get())

    def test_list_filter_and_group_by_retainer(self):
        ticket = self._ticket()
        plain = self._ticket(partner=self.other_customer)
        found = self.Ticket.search([("retainer_id", "=", self.contract.id)])
        self.assertIn(ticket, found)
        self.assertNotIn(plain, found)
        groups = dict(
            self.Ticket._read_group(
                [("id", "in", (ticket | plain).ids)], ["retainer_id"], ["__count"]
            )
        )
        self.assertEqual(groups[self.contract], 1)
        self.assertEqual(groups[self.env["retainer.contract"]], 1)
