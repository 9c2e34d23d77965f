from datetime import timedelta

from lxml import html as lxml_html

from odoo import fields
from odoo.tests import new_test_user, tagged

from .common_portal import CALL_HOURS, RetainerHelpdeskPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestPortalTickets(RetainerHelpdeskPortalCommon):
    """Tickets on the customer portal: the retainer page lists them with
    their units and opens new ones (through helpdesk_mgmt's form), the ticket
    page shows the retainer to those who may see it, and every refusal
    writes nothing."""

    def _ticket_form(self, retainer):
        """Log in as the customer, open a ticket from ``retainer``'s page
        and return the CSRF token of the form it leads to."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(f"/my/retainers/{retainer.id}/ticket")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(
            response.url.endswith(f"/new/ticket?retainer_id={retainer.id}"),
            response.url,
        )
        return self._csrf_token(f"/new/ticket?retainer_id={retainer.id}")

    def _submit(self, **data):
        return self.url_open(
            "/submitted/ticket",
            data={
                "subject": "Outlook keeps asking for the password",
                "description": "Since this morning, on every laptop.",
                **data,
            },
        )

    # === THE RETAINER PAGE === #

    def test_retainer_page_lists_tickets_with_units(self):
        self._log_call(self.ticket)
        self._log_call(self.ticket, hours=0.25, name="Follow-up call")
        self._log_call(self.other_ticket)
        done = self.env["helpdesk.ticket.stage"].search(
            [("closed", "=", True)], limit=1
        )
        recent = self._create_ticket(
            "Closed last week", self.portal_user, self.retainer
        )
        old = self._create_ticket("Closed long ago", self.portal_user, self.retainer)
        # No tracking: the stage's email to the customer is not the point.
        (recent | old).with_context(mail_notrack=True).stage_id = done
        recent.closed_date = fields.Datetime.now() - timedelta(days=5)
        old.closed_date = fields.Datetime.now() - timedelta(days=40)
        units = self.retainer._retainer_units_for(
            CALL_HOURS, "phone"
        ) + self.retainer._retainer_units_for(0.25, "phone")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer)).text
        self.assertIn("o_retainer_new_ticket", page)
        self.assertIn(f"/my/retainers/{self.retainer.id}/ticket", page)
        self.assertIn(self.ticket.number, page)
        self.assertIn("Printer offline at reception", page)
        self.assertRegex(
            page,
            rf"(?s)Printer offline at reception.*?"
            rf'o_retainer_ticket_units" data-units="{units}">{units}<',
        )
        self.assertIn("Closed last week", page)
        self.assertNotIn("Closed long ago", page)
        self.assertNotIn("Southfield secret ticket", page)

    def test_share_link_visitor_sees_no_ticket(self):
        """A visitor with the retainer's share link reads the retainer, not
        its tickets (their own record rules), and cannot open one."""
        self.retainer._portal_ensure_token()
        page = self.url_open(
            self._detail_url(self.retainer, access_token=self.retainer.access_token)
        ).text
        self.assertIn("o_retainer_tickets_empty", page)
        self.assertNotIn("Printer offline at reception", page)
        self.assertNotIn("o_retainer_new_ticket", page)
        # Nor does a portal user of another customer holding the link.
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        page = self.url_open(
            self._detail_url(self.retainer, access_token=self.retainer.access_token)
        ).text
        self.assertIn("o_retainer_balance", page)
        self.assertNotIn("o_retainer_new_ticket", page)
        self.assertNotIn("Printer offline at reception", page)

    # === OPENING A TICKET === #

    def test_open_ticket_from_retainer_page(self):
        token = self._ticket_form(self.retainer)
        form = self.url_open(f"/new/ticket?retainer_id={self.retainer.id}").text
        self.assertIn(f'name="retainer_id" value="{self.retainer.id}"', form)
        self.assertIn(
            f"This ticket is for your retainer <strong>{self.retainer.name}", form
        )
        before = self._tickets()
        response = self._submit(csrf_token=token, retainer_id=str(self.retainer.id))
        ticket = self._tickets() - before
        self.assertEqual(len(ticket), 1)
        self.assertEqual(ticket.retainer_id, self.retainer)
        self.assertEqual(ticket.partner_id, self.portal_user.partner_id)
        self.assertEqual(ticket.name, "Outlook keeps asking for the password")
        self.assertIn(self.portal_user.partner_id, ticket.message_partner_ids)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.url.endswith(f"/my/ticket/{ticket.id}"), response.url)
        self.assertIn("Outlook keeps asking for the password", response.text)

    def test_ticket_without_retainer_takes_the_customers(self):
        """helpdesk_mgmt's own form still opens tickets; one named for no
        retainer gets its customer's active retainer, as any ticket does."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        token = self._csrf_token("/new/ticket")
        before = self._tickets()
        self._submit(csrf_token=token)
        ticket = self._tickets() - before
        self.assertEqual(len(ticket), 1)
        self.assertEqual(ticket.retainer_id, self.retainer)

    def test_other_customer_retainer_refused(self):
        token = self._ticket_form(self.retainer)
        before = self._tickets()
        other = self.other_retainer
        self.assertEqual(
            self.url_open(f"/my/retainers/{other.id}/ticket").status_code, 403
        )
        response = self.url_open(f"/new/ticket?retainer_id={other.id}")
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(other.name, response.text)
        response = self._submit(csrf_token=token, retainer_id=str(other.id))
        self.assertEqual(response.status_code, 403)
        missing = other.id + 1000
        self.assertEqual(
            self.url_open(f"/my/retainers/{missing}/ticket").status_code, 404
        )
        response = self._submit(csrf_token=token, retainer_id=str(missing))
        self.assertEqual(response.status_code, 404)
        response = self._submit(csrf_token=token, retainer_id="1; DROP")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self._tickets(), before)

    def test_closed_retainer_takes_no_ticket(self):
        token = self._ticket_form(self.retainer)
        self.retainer._set_state("closed")
        page = self.url_open(self._detail_url(self.retainer)).text
        self.assertNotIn("o_retainer_new_ticket", page)
        before = self._tickets()
        response = self._submit(csrf_token=token, retainer_id=str(self.retainer.id))
        self.assertEqual(response.status_code, 400)
        self.assertIn(
            f"Retainer {self.retainer.name} is closed: it takes no new ticket.",
            response.text,
        )
        self.assertEqual(self._tickets(), before)

    def test_missing_csrf_refused(self):
        self._ticket_form(self.retainer)
        before = self._tickets()
        response = self._submit(retainer_id=str(self.retainer.id))
        self.assertEqual(response.status_code, 400)
        response = self._submit(csrf_token="forged", retainer_id=str(self.retainer.id))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self._tickets(), before)

    def test_anonymous_visitor_cannot_open_ticket(self):
        response = self.url_open(f"/my/retainers/{self.retainer.id}/ticket")
        self.assertIn("/web/login", response.url)
        self.assertNotIn(self.retainer.name, response.text)

    # === THE TICKET PAGE === #

    def test_other_customer_ticket_not_visible(self):
        self._log_call(self.other_ticket)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self.assertRefused(
            self.url_open(f"/my/ticket/{self.other_ticket.id}"),
            "Southfield secret ticket",
            self.other_retainer.name,
        )
        listing = self.url_open("/my/tickets").text
        self.assertIn("Printer offline at reception", listing)
        self.assertNotIn("Southfield secret ticket", listing)

    def test_ticket_page_shows_units_to_retainer_viewers(self):
        line = self._log_call(self.ticket)
        units = self.retainer._retainer_units_for(CALL_HOURS, "phone")
        self.assertEqual(line.retainer_units, units)
        colleague = self._create_portal_user(
            "ret_helpdesk_colleague", "Colin Colleague", self.customer
        )
        for user in (self.portal_user, colleague):
            with self.subTest(user=user.login):
                self.authenticate(user.login, user.login)
                page = self.url_open(f"/my/ticket/{self.ticket.id}").text
                self.assertIn("o_ticket_retainer_balance", page)
                self.assertIn(f"{self.retainer.balance_units} units", page)
                self.assertIn("Call: printer driver", page)
                self.assertRegex(page, rf"(?s)o_retainer_usage_row.*?>-{units}</td>")

    def test_ticket_page_lists_the_incidents_lines_with_its_units_once(self):
        """A ticket rounded once: its page lists every line of the ticket,
        the follow-up that cost no unit included (inside the incident, never
        free-looking), and the incident's units once; the page costs the
        same queries whatever the number of lines."""
        self.retainer.rounding_scope = "incident"
        self._log_call(self.ticket, 45 / 60, name="Call about the printer")
        self._log_call(self.ticket, 45 / 60, name="Remote repair of the driver")
        follow_up = self._log_call(self.ticket, 5 / 60, name="Follow-up call")
        self.assertEqual(
            follow_up.retainer_incident_ref, f"helpdesk.ticket,{self.ticket.id}"
        )
        self.assertEqual(follow_up.retainer_charged_units, 0)
        units = (
            self.env["helpdesk.ticket"]
            .sudo()
            ._portal_retainer_units(self.retainer, self.ticket)[self.ticket.id]
        )
        self.assertGreater(units, 0)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(f"/my/ticket/{self.ticket.id}").text
        document = lxml_html.fromstring(page)
        [incident] = document.xpath(
            "//div[contains(@class, 'o_ticket_retainer')]"
            "//tbody[contains(@class, 'o_retainer_incident_incident')]"
        )
        self.assertEqual(
            incident.get("data-incident"), f"helpdesk.ticket,{self.ticket.id}"
        )
        self.assertEqual(
            incident.xpath(
                "string(.//th[contains(@class, 'o_retainer_incident_units')])"
            ),
            f"-{units}",
        )
        lines = incident.xpath(".//tr[contains(@class, 'o_retainer_incident_line')]")
        self.assertEqual(
            [
                line.xpath(
                    "string(.//td[contains(@class, 'o_retainer_description')]/span)"
                )
                for line in lines
            ],
            ["Call about the printer", "Remote repair of the driver", "Follow-up call"],
        )
        self.assertEqual(
            {
                line.xpath(
                    "normalize-space(.//td[contains(@class, "
                    "'o_retainer_incident_line_units')])"
                )
                for line in lines
            },
            {"in the incident"},
        )
        # The units once: the incident's header and the total, no row of
        # its own per debit.
        self.assertFalse(
            document.xpath("//tbody[contains(@class, 'o_ticket_retainer_work')]")
        )
        self.assertEqual(
            document.xpath(
                "normalize-space(//tr[contains(@class, 'o_ticket_retainer_total')]"
                "/td[last()])"
            ),
            f"-{units}",
        )
        # More lines on another ticket of the incident: the same queries.
        busy = self._create_ticket("Busy ticket", self.portal_user, self.retainer)
        for index in range(12):
            self._log_call(busy, 4 / 60, name=f"Short call {index}")
        counts = []
        for ticket in (self.ticket, busy, self.ticket, busy):
            before = self.cr.sql_log_count
            self.assertEqual(self.url_open(f"/my/ticket/{ticket.id}").status_code, 200)
            counts.append(self.cr.sql_log_count - before)
        self.assertEqual(counts[2], counts[3], counts)

    def test_ticket_page_hides_retainer_from_others(self):
        """A portal user of another customer who follows the ticket reads
        the ticket (helpdesk_mgmt's rule) but not its retainer: no balance,
        no units."""
        self._log_call(self.ticket)
        follower = new_test_user(
            self.env,
            login="ret_helpdesk_follower",
            name="Fiona Follower",
            groups="base.group_portal",
        )
        follower.partner_id.parent_id = self.env["res.partner"].create(
            {"name": "Westgate IT Partners", "is_company": True}
        )
        self.ticket.message_subscribe(partner_ids=follower.partner_id.ids)
        self.authenticate(follower.login, follower.login)
        page = self.url_open(f"/my/ticket/{self.ticket.id}").text
        self.assertIn("Printer offline at reception", page)
        self.assertNotIn("o_ticket_retainer", page)
        self.assertNotIn(self.retainer.name, page)
        self.assertNotIn("Call: printer driver", page)
        self.assertEqual(
            self.url_open(f"/my/retainers/{self.retainer.id}/ticket").status_code, 403
        )

    def test_ticket_page_shows_sla_deadlines(self):
        calendar = self.env.ref("resource.resource_calendar_std")
        self.team.write({"use_sla": True, "resource_calendar_id": calendar.id})
        self.env["helpdesk.sla"].create(
            {
                "name": "First answer within 4 working hours",
                "team_ids": [(6, 0, self.team.ids)],
                "stage_id": self.env.ref(
                    "helpdesk_mgmt.helpdesk_ticket_stage_in_progress"
                ).id,
                "hours": 4,
            }
        )
        ticket = self._create_ticket("Server down", self.portal_user, self.retainer)
        sla = ticket.ticket_sla_ids.filtered(
            lambda line: line.name == "First answer within 4 working hours"
        )
        self.assertTrue(sla.deadline)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(f"/my/ticket/{ticket.id}").text
        self.assertIn("Response targets", page)
        self.assertIn("First answer within 4 working hours", page)
        self.assertIn("o_ticket_sla_deadline", page)
        page = self.url_open(f"/my/ticket/{self.ticket.id}").text
        self.assertNotIn("First answer within 4 working hours", page)
