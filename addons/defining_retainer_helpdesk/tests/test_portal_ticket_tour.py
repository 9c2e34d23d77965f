from odoo.tests import tagged

from .common_portal import CALL_HOURS, RetainerHelpdeskPortalCommon

SUBJECT = "Printer offline in the meeting room"
# What the tour expects a 0:37 call to cost (15-minute units, 5 minutes of
# grace: see retainer_helpdesk_portal_tour.js).
CALL_UNITS = 3


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestPortalTicketTour(RetainerHelpdeskPortalCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The tour's customer starts without tickets.
        (cls.ticket | cls.other_ticket).unlink()

    def test_portal_ticket_tour(self):
        """A customer opens a ticket from their retainer's page in a real
        browser; a consultant logs 0:37 on it by telephone; the customer sees
        the ticket and its units on the retainer's page and the call's units
        on the ticket's page."""
        balance = self.retainer.balance_units
        self.start_tour(
            "/my/retainers",
            "defining_retainer_helpdesk_open_ticket_tour",
            login=self.portal_user.login,
        )
        ticket = self.env["helpdesk.ticket"].search([("name", "=", SUBJECT)])
        self.assertEqual(len(ticket), 1)
        self.assertEqual(ticket.retainer_id, self.retainer)
        self.assertEqual(ticket.partner_id, self.portal_user.partner_id)
        # Routing the ticket to the retainer's project is the staff side's
        # (the ticket's retainer decides it); here the support desk does it.
        ticket.project_id = self.project
        ticket.channel_id = self.phone_channel
        line = self._log_call(ticket, name="Call about the printer")
        self.assertEqual(line.retainer_id, self.retainer)
        self.assertEqual(line.retainer_contact_type, "phone")
        self.assertEqual(line.retainer_units, CALL_UNITS)
        self.assertEqual(
            self.retainer._retainer_units_for(CALL_HOURS, "phone"), CALL_UNITS
        )
        self.assertEqual(self.retainer.balance_units, balance - CALL_UNITS)
        self.start_tour(
            "/my/retainers",
            "defining_retainer_helpdesk_ticket_units_tour",
            login=self.portal_user.login,
        )
