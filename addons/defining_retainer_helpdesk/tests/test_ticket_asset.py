from odoo import Command
from odoo.tests import tagged

from .common import HelpdeskRetainerCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketAsset(HelpdeskRetainerCommon):
    """A ticket may name the audited asset it is about; staff logging time
    on a ticket of an asset the firm does not support are warned, as on a
    task."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Technology = cls.env["retainer.technology"]
        mainframe = Technology.create(
            {
                "name": "IBM mainframe",
                "category": "hardware",
                "support_status": "not_supported",
                "customer_note": "We can recommend a specialist.",
            }
        )
        windows = Technology.create({"name": "Windows Server", "category": "software"})
        audit = cls.contract.with_user(cls.manager)._retainer_open_audit()
        audit.with_user(cls.manager).write(
            {
                "asset_ids": [
                    Command.create(
                        {"name": "Billing system", "technology_id": mainframe.id}
                    ),
                    Command.create(
                        {"name": "File server", "technology_id": windows.id}
                    ),
                ]
            }
        )
        cls.billing = audit.asset_ids.filtered(lambda a: a.name == "Billing system")
        cls.file_server = audit.asset_ids - cls.billing

    def _warning(self, ticket):
        line = (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .new({"ticket_id": ticket.id})
        )
        result = line._onchange_retainer_ticket_asset_warning()
        return result and result["warning"]["message"]

    def test_warning_on_time_for_a_ticket_of_an_unsupported_asset(self):
        ticket = self._ticket()
        self.assertFalse(self._warning(ticket))
        ticket.retainer_asset_id = self.billing
        warning = self._warning(ticket)
        self.assertIn("Billing system (IBM mainframe) is not supported", warning)
        self.assertIn("recommend a specialist", warning)
        # The consultant may not read the audit: the warning is theirs too.
        self.assertEqual(
            ticket.with_user(self.consultant)._retainer_unsupported_asset_warning(),
            warning,
        )
        ticket.retainer_asset_id = self.file_server
        self.assertFalse(self._warning(ticket))
