from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import HelpdeskRetainerCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketTimesheet(HelpdeskRetainerCommon):
    """Time on a ticket is retainer time: the server fills its project and
    task, it goes through the core's posting, and moves follow the task
    rule."""

    def test_line_with_only_ticket_gets_project_and_task(self):
        ticket = self._ticket(task_id=self.task.id)
        self.assertEqual(ticket.task_id, self.task)
        line = self._log_ticket(ticket, self.hm(0, 37))
        self.assertEqual(line.project_id, self.project)
        self.assertEqual(line.task_id, self.task)
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(line.retainer_units, 3)
        debit = self.env["retainer.ledger.entry"].search(
            [("timesheet_id", "=", line.id)]
        )
        self.assertEqual(debit.units, -3)
        self.assertEqual(ticket.retainer_units, 3)

    def test_ticket_units_are_the_ledgers_in_both_scopes(self):
        """Units used on the ticket form: what the ledger charged for the
        ticket's work, as the portal sums it (0:45 + 0:45 + 0:05 is 7 units
        entry by entry, 6 for the ticket rounded once)."""
        for scope, expected in (("entry", 7), ("incident", 6)):
            with self.subTest(scope=scope):
                self.contract.rounding_scope = scope
                ticket = self._ticket(task_id=self.task.id)
                lines = self.env["account.analytic.line"]
                for minutes in (45, 45, 5):
                    lines |= self._log_ticket(ticket, minutes / 60)
                # Each line rounded alone: 3 + 3 + 1, whatever the scope.
                self.assertEqual(sum(lines.mapped("retainer_units")), 7)
                self.env.invalidate_all()
                self.assertEqual(
                    ticket.with_user(self.consultant).retainer_units, expected
                )
                self.assertEqual(
                    self.Ticket.sudo()._portal_retainer_units(self.contract, ticket),
                    {ticket.id: expected},
                )
                charged = self.env["retainer.ledger.entry"].search(
                    [
                        ("contract_id", "=", self.contract.id),
                        ("timesheet_id", "in", lines.ids),
                        ("effective_kind", "=", "debit"),
                    ]
                )
                self.assertEqual(-sum(charged.mapped("units")), expected)
                # A line edited down: the ticket follows the ledger.
                lines[0].with_user(self.consultant).unit_amount = 10 / 60
                self.env.invalidate_all()
                self.assertEqual(
                    ticket.with_user(self.consultant).retainer_units,
                    {"entry": 5, "incident": 4}[scope],
                )

    def test_ticket_tab_billed_sum_is_the_ledgers_in_both_scopes(self):
        """The timesheet tab's "Billed" column sums what the ledger charged
        for each row (for an incident rounded once, the difference it made),
        so its sum is the ticket's units used as time in both scopes: 1 h 45
        min (7 units) entry by entry, 1 h 30 min (6 units) rounded once; the
        row's own rounding is an optional column that is not summed."""
        arch = self.Ticket.with_user(self.consultant).get_views([(False, "form")])[
            "views"
        ]["form"]["arch"]
        summed = {
            node.get("name"): node.get("sum")
            for node in etree.fromstring(arch).xpath(
                "//field[@name='timesheet_ids']/list/field[@sum]"
            )
        }
        self.assertEqual(summed.get("retainer_charged_hours"), "Billed")
        self.assertNotIn("retainer_billed_hours", summed)
        for scope, units in (("entry", 7), ("incident", 6)):
            with self.subTest(scope=scope):
                self.contract.rounding_scope = scope
                ticket = self._ticket(task_id=self.task.id)
                for minutes in (45, 45, 5):
                    self._log_ticket(ticket, minutes / 60)
                self.env.invalidate_all()
                rows = ticket.with_user(self.consultant).timesheet_ids
                self.assertEqual(
                    sorted(rows.mapped("retainer_charged_hours")),
                    {"entry": [0.25, 0.75, 0.75], "incident": [0.0, 0.75, 0.75]}[scope],
                )
                self.assertAlmostEqual(
                    sum(rows.mapped("retainer_charged_hours")), units * 0.25
                )
                self.assertEqual(
                    ticket.with_user(self.consultant).retainer_units, units
                )
                # Each row rounded alone still reads 45 + 45 + 15 minutes.
                self.assertAlmostEqual(sum(rows.mapped("retainer_billed_hours")), 1.75)

    def test_client_project_and_derived_values_are_not_trusted(self):
        ticket = self._ticket()
        line = self._log_ticket(
            ticket, 1.0, retainer_units=1, retainer_billed_hours=0.1
        )
        self.assertEqual(line.retainer_units, 4)
        self.assertEqual(line.retainer_billed_hours, 1.0)

    def test_contact_type_explicit_then_ticket_then_task_then_level(self):
        self.task.retainer_contact_type = "onsite"
        ticket = self._ticket(channel_id=self.phone.id, task_id=self.task.id)
        self.assertEqual(ticket.retainer_contact_type, "phone")
        explicit = self._log_ticket(ticket, 0.25, retainer_contact_type="remote")
        self.assertEqual(explicit.retainer_contact_type, "remote")
        from_ticket = self._log_ticket(ticket, 0.25)
        self.assertEqual(from_ticket.retainer_contact_type, "phone")
        ticket.retainer_contact_type = False
        from_task = self._log_ticket(ticket, 0.25)
        self.assertEqual(from_task.retainer_contact_type, "onsite")
        self.task.retainer_contact_type = False
        from_level = self._log_ticket(ticket, 0.25)
        self.assertEqual(from_level.retainer_contact_type, "remote")

    def test_ticket_form_line_takes_ticket_contact_type(self):
        """A new line of the ticket's timesheet tab shows the ticket's
        contact type (before its task's) and what it costs."""
        self.task.retainer_contact_type = "phone"
        ticket = self._ticket(channel_id=self.onsite.id, task_id=self.task.id)
        line = (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .new(
                {
                    "ticket_id": ticket.id,
                    "project_id": ticket.project_id.id,
                    "task_id": ticket.task_id.id,
                    "unit_amount": 1.0,
                }
            )
        )
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(line.retainer_contact_type, "onsite")
        self.assertEqual(line.retainer_units, 6)  # on-site rate 1.5

    def test_ticket_form_shows_overdraft_warning(self):
        self.company.retainer_overdraft_policy = "block"
        contract = self._create_contract(
            self.other_customer, self.level_onsite, units=4, overdraft_policy="block"
        )
        self._create_project(contract)
        ticket = self._ticket(partner=self.other_customer)
        line = self.env["account.analytic.line"].new(
            {
                "ticket_id": ticket.id,
                "project_id": ticket.project_id.id,
                "unit_amount": 2.0,
                "employee_id": self.employee.id,
            }
        )
        result = line._onchange_retainer_warning()
        self.assertRegex(
            result["warning"]["message"],
            rf"Retainer {contract.name} has 4 units \(1 h\) left and this "
            r"time needs 8 units \(2 h\).*saving will be refused",
        )

    def test_running_timer_costs_nothing_until_stopped(self):
        ticket = self._ticket()
        ledger = self._ledger_count()
        line = self._log_ticket(
            ticket, 0.0, date_time=fields.Datetime.now(), retainer_contact_type="phone"
        )
        self.assertEqual(line.show_time_control, "stop")
        self.assertEqual(line.retainer_units, 0)
        self.assertEqual(self._ledger_count(), ledger)
        line.with_user(self.consultant).with_context(
            stop_dt=line.date_time + timedelta(minutes=37)
        ).button_end_work()
        self.assertEqual(line.retainer_units, 3)
        self.assertEqual(self._ledger_count(), ledger + 1)

    def test_ticket_timer_start_and_stop(self):
        ticket = self._ticket().with_user(self.consultant)
        action = ticket.button_start_work()
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.consultant)
            .with_context(**action["context"])
            .create({"name": "Timer on the ticket"})
        )
        wizard.action_switch()
        line = ticket.timesheet_ids
        self.assertEqual(line.project_id, self.project)
        self.assertEqual(line.retainer_units, 0)
        self.assertFalse(
            self.env["retainer.ledger.entry"].search([("timesheet_id", "=", line.id)])
        )

    def test_ticket_move_needs_retainer_manager(self):
        ticket = self._ticket()
        line = self._log_ticket(ticket, 1.0)
        other = self._create_contract(self.customer, self.level_phone, units=28)
        other_project = self._create_project(other)
        self.assertEqual(ticket.retainer_id, self.contract)
        ledger = self._ledger_count()
        with self.assertRaisesRegex(
            AccessError,
            rf"Ticket .* has time charged to retainer {self.contract.name}: moving "
            rf"it to project Support Quarter Hour Ltd moves that time to retainer "
            rf"{other.name}, which needs the Retainers: Manager right",
        ):
            ticket.with_user(self.consultant).project_id = other_project
        self.assertEqual(ticket.project_id, self.project)
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(self._ledger_count(), ledger)
        # Choosing the other retainer moves the ticket: the same rule.
        with self.assertRaisesRegex(AccessError, "Retainers: Manager right"):
            ticket.with_user(self.consultant).retainer_id = other
        self.assertEqual(line.retainer_id, self.contract)

    def test_manager_moves_ticket_with_reason(self):
        ticket = self._ticket()
        line = self._log_ticket(ticket, 1.0)
        other = self._create_contract(self.customer, self.level_onsite, units=28)
        other_project = self._create_project(other)
        ticket.with_user(self.manager).project_id = other_project
        self.assertEqual(line.project_id, other_project)
        self.assertEqual(line.retainer_id, other)
        reversal = self.env["retainer.ledger.entry"].search(
            [("contract_id", "=", self.contract.id), ("kind", "=", "reversal")]
        )
        self.assertEqual(reversal.units, 4)
        self.assertRegex(
            reversal.reason, r"Ticket .* moved to project .* by Morgan Manager"
        )
        self.assertEqual(other.balance_units, 24)
        self.assertEqual(self.contract.balance_units, 56)

    def test_line_moved_to_another_ticket_follows_it(self):
        other = self._create_contract(self.other_customer, self.level_onsite, units=28)
        self._create_project(other)
        ticket = self._ticket()
        other_ticket = self._ticket(partner=self.other_customer)
        line = self._log_ticket(ticket, 1.0)
        with self.assertRaisesRegex(AccessError, "Retainers: Manager right"):
            line.with_user(self.consultant).ticket_id = other_ticket
        self.assertEqual(line.ticket_id, ticket)
        line.with_user(self.manager).ticket_id = other_ticket
        self.assertEqual(line.project_id, other_ticket.project_id)
        self.assertEqual(line.retainer_id, other)

    def test_hooks_know_tickets(self):
        Line = self.env["account.analytic.line"]
        self.assertIn("ticket_id", Line._retainer_usage_fields())
        ticket = self._ticket(task_id=self.task.id)
        on_ticket = self._log_ticket(ticket, 0.5)
        on_task = self._log(0.5, task_id=self.task.id)
        plain = self._log(0.5)
        self.assertEqual(
            (on_ticket | on_task | plain)._retainer_incident_refs(),
            [
                f"helpdesk.ticket,{ticket.id}",
                f"project.task,{self.task.id}",
                f"account.analytic.line,{plain.id}",
            ],
        )


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketTimesheetRoles(HelpdeskRetainerCommon):
    """Who may log time on a ticket, and what each role sees of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.timesheet_only = new_test_user(
            cls.env,
            login="timesheet_only",
            groups="hr_timesheet.group_hr_timesheet_user",
            name="Tim Sheet",
        )
        cls.env["hr.employee"].create(
            {"name": "Tim Sheet", "user_id": cls.timesheet_only.id}
        )
        cls.company_b = cls.env["res.company"].create({"name": "Other Co"})
        cls.user_b = new_test_user(
            cls.env,
            login="helpdesk_b",
            groups="helpdesk_mgmt.group_helpdesk_user,"
            "hr_timesheet.group_hr_timesheet_user",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
            name="Bea Other",
        )
        cls.env["hr.employee"].create(
            {
                "name": "Bea Other",
                "user_id": cls.user_b.id,
                "company_id": cls.company_b.id,
            }
        )

    def test_timesheet_user_logs_on_ticket_other_company_cannot(self):
        """A timesheet user who is no helpdesk user logs time on a ticket
        (as helpdesk_mgmt_timesheet allows): it is retainer time. A user of
        another company cannot log time on the ticket's project."""
        ticket = self._ticket()
        line = self._log_ticket(ticket, 0.5, user=self.timesheet_only)
        self.assertEqual(line.project_id, self.project)
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(line.retainer_units, 2)
        lines = self.env["account.analytic.line"].search_count([])
        # Refused by the retainer's company rule, not by anything else.
        with self.assertRaisesRegex(
            AccessError,
            r"(?s)Bea Other .* doesn't have 'read' access to:\n- Retainer "
            r"\(retainer\.contract\).*multi-company",
        ):
            self._log_ticket(ticket, 0.5, user=self.user_b)
        self.assertEqual(self.env["account.analytic.line"].search_count([]), lines)

    def test_ticket_of_another_company_gets_no_retainer(self):
        team_b = self.env["helpdesk.ticket.team"].create(
            {"name": "Desk B", "company_id": self.company_b.id}
        )
        ticket = self._ticket(user=self.user_b, team_id=team_b.id)
        self.assertEqual(ticket.company_id, self.company_b)
        self.assertFalse(ticket.retainer_id)
        self.assertFalse(ticket.retainer_candidate_ids)
        with self.assertRaisesRegex(
            ValidationError,
            rf"Ticket .* is in Other Co but retainer {self.contract.name} "
            rf"belongs to {self.company.name}",
        ):
            ticket.sudo().retainer_id = self.contract

    def test_ticket_views_load_for_every_role(self):
        ticket = self._ticket()
        for user in (self.consultant, self.manager, self.desk_user):
            Ticket = self.Ticket.with_user(user)
            for view_type in ("form", "list", "kanban", "search"):
                Ticket.get_view(view_type=view_type)
            form = Ticket.get_view(view_type="form")["arch"]
            if user == self.desk_user:
                self.assertNotIn('name="retainer_balance_units"', form)
            else:
                self.assertIn('name="retainer_balance_units"', form)
                self.assertIn('name="retainer_contact_type"', form)
            values = ticket.with_user(user).web_read(
                {"retainer_id": {"fields": {"display_name": {}}}, "project_id": {}}
            )
            self.assertEqual(values[0]["retainer_id"]["id"], self.contract.id)
