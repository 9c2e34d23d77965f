from datetime import timedelta

from odoo.tests import tagged

from .common import HelpdeskRetainerCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketSla(HelpdeskRetainerCommon):
    """A support level names its SLAs and cover hours; the tickets of its
    retainers get them (and lose them when they change retainer)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.in_progress = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_in_progress")
        cls.done = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        cls.new = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_new")
        Calendar = cls.env["resource.calendar"]
        cls.office = Calendar.create(
            {
                "name": "Test office hours",
                "tz": "UTC",
                "attendance_ids": [
                    (
                        0,
                        0,
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 9,
                            "hour_to": 17,
                            "day_period": "morning",
                        },
                    )
                    for day in range(5)
                ],
            }
        )
        cls.extended = Calendar.create(
            {
                "name": "Test round the clock",
                "tz": "UTC",
                "attendance_ids": [
                    (
                        0,
                        0,
                        {
                            "name": f"Day {day}",
                            "dayofweek": str(day),
                            "hour_from": 0,
                            "hour_to": 24,
                            "day_period": "morning",
                        },
                    )
                    for day in range(7)
                ],
            }
        )
        Sla = cls.env["helpdesk.sla"]
        cls.team_sla = Sla.create(
            {"name": "Team: 1 day", "days": 1, "stage_id": cls.done.id}
        )
        cls.response = Sla.create(
            {"name": "Response 2h", "hours": 2, "stage_id": cls.in_progress.id}
        )
        cls.resolution = Sla.create(
            {"name": "Resolution 1 day", "days": 1, "stage_id": cls.done.id}
        )
        cls.phone_response = Sla.create(
            {"name": "Phone response 8h", "hours": 8, "stage_id": cls.in_progress.id}
        )
        cls.level_onsite.write(
            {
                "retainer_sla_ids": [(6, 0, (cls.response | cls.resolution).ids)],
                "sla_calendar_id": cls.extended.id,
            }
        )
        cls.level_phone.write(
            {
                "retainer_sla_ids": [(6, 0, cls.phone_response.ids)],
                "sla_calendar_id": cls.office.id,
            }
        )
        cls.team.write({"use_sla": True, "resource_calendar_id": cls.office.id})

    def _office_deadline(self, ticket, hours):
        return self.office.plan_hours(hours, ticket.create_date, compute_leaves=True)

    def test_level_slas_and_cover_hours(self):
        ticket = self._ticket()
        self.assertEqual(ticket.sla_ids, self.response | self.resolution)
        by_sla = {sla.sla_id: sla for sla in ticket.ticket_sla_ids}
        response = by_sla[self.response]
        self.assertEqual(response.calendar_id, self.extended)
        # Round the clock: 2 hours after the ticket came, whatever the day.
        self.assertAlmostEqual(
            response.deadline,
            ticket.create_date + timedelta(hours=2),
            delta=timedelta(seconds=1),
        )
        # A day of these cover hours is 24 hours (the team's day is 8).
        self.assertEqual(by_sla[self.resolution].hours, 24)
        self.assertAlmostEqual(
            by_sla[self.resolution].deadline,
            ticket.create_date + timedelta(days=1),
            delta=timedelta(seconds=1),
        )
        # A ticket without retainer has the team's SLA on the team's hours.
        plain = self._ticket(partner=self.other_customer)
        self.assertEqual(plain.sla_ids, self.team_sla)
        self.assertEqual(plain.ticket_sla_ids.calendar_id, self.office)
        self.assertEqual(plain.ticket_sla_ids.hours, 8)
        self.assertEqual(plain.ticket_sla_ids.deadline, self._office_deadline(plain, 8))
        # The staff form shows them.
        self.assertEqual(ticket.sla_deadline, response.deadline)

    def test_response_and_resolution_reached_by_stage(self):
        ticket = self._ticket()
        by_sla = {sla.sla_id: sla for sla in ticket.ticket_sla_ids}
        self.assertEqual(by_sla[self.response].state, "in_progress")
        ticket.stage_id = self.in_progress
        self.assertEqual(by_sla[self.response].state, "accomplished")
        self.assertEqual(by_sla[self.resolution].state, "in_progress")
        ticket.stage_id = self.done
        self.assertEqual(by_sla[self.resolution].state, "accomplished")

    def test_slas_follow_a_change_of_customer(self):
        contract = self._create_contract(self.other_customer, self.level_phone)
        self._create_project(contract)
        ticket = self._ticket()
        self.assertEqual(ticket.sla_ids, self.response | self.resolution)
        ticket.partner_id = self.other_customer
        self.assertEqual(ticket.retainer_id, contract)
        self.assertEqual(ticket.sla_ids, self.phone_response)
        self.assertEqual(ticket.ticket_sla_ids.calendar_id, self.office)
        self.assertEqual(
            ticket.ticket_sla_ids.deadline, self._office_deadline(ticket, 8)
        )
        ticket.partner_id = self.env["res.partner"].create({"name": "No retainer"})
        self.assertFalse(ticket.retainer_id)
        self.assertEqual(ticket.sla_ids, self.team_sla)

    def test_level_slas_without_team_slas(self):
        self.team.use_sla = False
        ticket = self._ticket()
        self.assertEqual(ticket.sla_ids, self.response | self.resolution)
        self.assertFalse(self._ticket(partner=self.other_customer).ticket_sla_ids)

    def test_level_calendar_change_moves_deadlines(self):
        ticket = self._ticket()
        response = ticket.ticket_sla_ids.filtered(lambda s: s.sla_id == self.response)
        self.level_onsite.sla_calendar_id = self.office
        self.assertEqual(response.calendar_id, self.office)
        self.assertEqual(response.deadline, self._office_deadline(ticket, 2))
