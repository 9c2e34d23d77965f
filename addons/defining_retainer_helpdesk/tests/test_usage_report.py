from odoo import fields
from odoo.tests import tagged

from .common import HelpdeskRetainerCommon

STATEMENT_REPORT = "defining_retainer.action_report_retainer_statement"


class TicketUsageCommon(HelpdeskRetainerCommon):
    """Usage logged on tickets and without one, then one line edited."""

    def _log_usage(self, entries, edit):
        """Log ``entries`` (``(ticket or False, hours, date)``), then set the
        hours of the entry at ``edit[0]`` to ``edit[1]`` (its debit is
        reversed and a new one posted). Return the lines."""
        lines = [
            self._log_ticket(ticket, hours, date=date)
            if ticket
            else self._log(hours, date=date)
            for ticket, hours, date in entries
        ]
        index, hours = edit
        lines[index].with_user(self.consultant).unit_amount = hours
        return lines

    def _statement_html(self, date_from="2026-02-01", date_to="2026-02-28"):
        return (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                STATEMENT_REPORT,
                self.contract.ids,
                data={"date_from": date_from, "date_to": date_to},
            )[0]
            .decode()
        )


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestUsageReportTickets(TicketUsageCommon):
    """The usage report knows the ticket of each usage entry: incidents
    (distinct tickets) and units per ticket, customer and month."""

    def test_units_and_incidents_per_ticket_customer_and_month(self):
        first = self._ticket(name="First")
        second = self._ticket(name="Second")
        self._log_usage(
            [
                (first, 1.0, "2026-01-10"),  # 4 units
                (first, 0.5, "2026-02-03"),  # 2 units
                (second, 0.25, "2026-02-04"),  # 1 unit, edited to 2
                (False, 0.5, "2026-02-05"),  # 2 units, no ticket
            ],
            edit=(2, 0.5),
        )
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
class TestStatementTickets(TicketUsageCommon):
    """The statement groups the usage that came from tickets by ticket."""

    def test_statement_groups_usage_by_ticket(self):
        first = self._ticket(name="Mail down")
        second = self._ticket(name="New laptop")
        self._log_usage(
            [
                (first, 1.0, "2026-02-02"),  # 4 units
                (first, 0.25, "2026-02-03"),  # 1 unit, edited to 2
                (second, 0.5, "2026-02-04"),  # 2 units
                (False, 0.5, "2026-02-05"),  # no ticket
            ],
            edit=(1, 0.5),
        )
        statement = self.contract._statement_data_by_contract(
            fields.Date.to_date("2026-02-01"), fields.Date.to_date("2026-02-28")
        )[self.contract.id]
        self.assertEqual(
            statement["tickets"], [(first, 2, 6, 1.5), (second, 1, 2, 0.5)]
        )
        html = self._statement_html()
        self.assertIn("Usage by ticket", html)
        self.assertIn("Mail down", html)
        self.assertIn(first.number, html)

    def test_statement_without_tickets_has_no_ticket_table(self):
        self._log(0.5, date="2026-02-05")
        html = self._statement_html()
        self.assertNotIn("Usage by ticket", html)
        self.assertNotIn("Usage per incident", html)

    def test_statement_names_the_ticket_of_an_incident(self):
        """Rounded per incident, the statement's usage per incident is per
        ticket: its lines (the one that cost nothing included) and its
        units once."""
        self.contract.rounding_scope = "incident"
        ticket = self._ticket(name="Mail down")
        self._log_usage(
            [
                (ticket, 0.75, "2026-02-02"),  # 3 units
                (ticket, 0.75, "2026-02-03"),  # 1:30: 3 more
                (ticket, 0.25, "2026-02-04"),  # 1:45: 1 more, edited below
            ],
            edit=(2, 5 / 60),  # 1:35 is still 6 units: the call costs none
        )
        statement = self.contract._statement_data_by_contract(
            fields.Date.to_date("2026-02-01"), fields.Date.to_date("2026-02-28")
        )[self.contract.id]
        [incident] = statement["incidents"]
        self.assertEqual(incident["ref"], f"helpdesk.ticket,{ticket.id}")
        self.assertEqual(incident["label"], ticket.display_name)
        self.assertEqual((incident["units"], len(incident["lines"])), (-6, 3))
        html = self._statement_html()
        self.assertIn("Usage per incident", html)
        self.assertIn(ticket.display_name, html)
