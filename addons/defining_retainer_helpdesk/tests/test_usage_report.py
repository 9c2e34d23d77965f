from odoo import fields
from odoo.tests import tagged

from .common import HelpdeskRetainerCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestUsageReportTickets(HelpdeskRetainerCommon):
    """The usage report knows the ticket of each usage entry: incidents
    (distinct tickets) and units per ticket, customer and month."""

    def test_units_and_incidents_per_ticket_customer_and_month(self):
        first = self._ticket(name="First")
        second = self._ticket(name="Second")
        self._log_ticket(first, 1.0, date="2026-01-10")  # 4 units
        self._log_ticket(first, 0.5, date="2026-02-03")  # 2 units
        line = self._log_ticket(second, 0.25, date="2026-02-04")  # 1 unit
        self._log(0.5, date="2026-02-05")  # 2 units, no ticket
        line.with_user(self.consultant).unit_amount = 0.5  # reversal + 2 units
        Report = self.env["retainer.usage.report"]
        domain = [("contract_id", "=", self.contract.id)]
        per_ticket = dict(Report._read_group(domain, ["ticket_id"], ["units:sum"]))
        self.assertEqual(per_ticket[first], 6)
        self.assertEqual(per_ticket[second], 2)
        self.assertEqual(per_ticket[self.env["helpdesk.ticket"]], 2)
        per_month = {
            month.strftime("%Y-%m"): (tickets, units)
            for month, tickets, units in Report._read_group(
                domain + [("ticket_id", "!=", False)],
                ["date:month"],
                ["ticket_id:count_distinct", "units:sum"],
            )
        }
        self.assertEqual(per_month, {"2026-01": (1, 4), "2026-02": (2, 4)})
        per_customer = Report._read_group(
            domain, ["partner_id"], ["ticket_id:count_distinct", "units:sum"]
        )
        self.assertEqual(per_customer, [(self.customer, 2, 10)])

    def test_ticket_measure_in_pivot(self):
        arch = self.env["retainer.usage.report"].get_view(view_type="pivot")["arch"]
        self.assertIn('name="ticket_id"', arch)


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestStatementTickets(HelpdeskRetainerCommon):
    """The statement groups the usage that came from tickets by ticket."""

    def test_statement_groups_usage_by_ticket(self):
        first = self._ticket(name="Mail down")
        second = self._ticket(name="New laptop")
        self._log_ticket(first, 1.0, date="2026-02-02")  # 4 units
        line = self._log_ticket(first, 0.25, date="2026-02-03")  # 1 unit
        self._log_ticket(second, 0.5, date="2026-02-04")  # 2 units
        self._log(0.5, date="2026-02-05")  # no ticket
        line.with_user(self.consultant).unit_amount = 0.5  # now 2 units
        statement = self.contract._statement_data_by_contract(
            fields.Date.to_date("2026-02-01"), fields.Date.to_date("2026-02-28")
        )[self.contract.id]
        self.assertEqual(
            statement["tickets"], [(first, 2, 6, 1.5), (second, 1, 2, 0.5)]
        )
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "defining_retainer.action_report_retainer_statement",
                self.contract.ids,
                data={"date_from": "2026-02-01", "date_to": "2026-02-28"},
            )[0]
            .decode()
        )
        self.assertIn("Usage by ticket", html)
        self.assertIn("Mail down", html)
        self.assertIn(first.number, html)

    def test_statement_without_tickets_has_no_ticket_table(self):
        self._log(0.5, date="2026-02-05")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "defining_retainer.action_report_retainer_statement",
                self.contract.ids,
                data={"date_from": "2026-02-01", "date_to": "2026-02-28"},
            )[0]
            .decode()
        )
        self.assertNotIn("Usage by ticket", html)
