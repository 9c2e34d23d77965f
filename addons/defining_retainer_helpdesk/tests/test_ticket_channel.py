from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import HelpdeskRetainerCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketChannel(HelpdeskRetainerCommon):
    """Each channel maps to a contact type; a ticket's contact type comes
    from its channel, is editable and limited to its level's types."""

    def test_channels_map_to_contact_types(self):
        self.assertEqual(self.phone.retainer_contact_type, "phone")
        self.assertEqual(self.email.retainer_contact_type, "remote")
        self.assertEqual(self.web.retainer_contact_type, "remote")
        self.assertEqual(self.onsite.retainer_contact_type, "onsite")
        self.assertEqual(self.onsite.name, "On-site visit")
        # Editable data.
        self.email.retainer_contact_type = "phone"
        ticket = self._ticket(channel_id=self.email.id)
        self.assertEqual(ticket.retainer_contact_type, "phone")

    def test_ticket_contact_type_from_channel_and_editable(self):
        ticket = self._ticket(channel_id=self.onsite.id)
        self.assertEqual(ticket.retainer_contact_type, "onsite")
        ticket.channel_id = self.phone
        self.assertEqual(ticket.retainer_contact_type, "phone")
        ticket.with_user(self.consultant).retainer_contact_type = "remote"
        self.assertEqual(ticket.retainer_contact_type, "remote")
        self.assertEqual(self._log_ticket(ticket, 0.25).retainer_contact_type, "remote")

    def test_ticket_contact_type_limited_to_level(self):
        contract = self._create_contract(self.other_customer, self.level_phone)
        self._create_project(contract)
        # A channel whose type the level excludes gives the level's type.
        ticket = self._ticket(partner=self.other_customer, channel_id=self.onsite.id)
        self.assertEqual(ticket.retainer_contact_type, "phone")
        with self.assertRaisesRegex(
            ValidationError,
            r"Ticket .*: level Test Telephone of retainer .* does not include "
            r"On-site support \(it includes: Telephone\)",
        ):
            ticket.with_user(self.consultant).retainer_contact_type = "onsite"
        self.assertEqual(ticket.retainer_contact_type, "phone")

    def test_ticket_without_retainer_keeps_channel_type(self):
        ticket = self._ticket(partner=self.other_customer, channel_id=self.onsite.id)
        self.assertFalse(ticket.retainer_id)
        self.assertEqual(ticket.retainer_contact_type, "onsite")
