import re

from odoo import http
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestTicketCloseRoute(HttpCase):
    """``/ticket/close`` closes a ticket the user may read, on a form post
    with its CSRF token only (helpdesk_mgmt 18.0 closed any ticket by id,
    read in sudo, on a GET)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.done = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        cls.done.close_from_portal = True
        customer = cls.env["res.partner"].create(
            {"name": "Own Customer", "is_company": True}
        )
        other = cls.env["res.partner"].create(
            {"name": "Other Customer", "is_company": True}
        )
        cls.portal = new_test_user(
            cls.env,
            login="close_portal",
            password="close_portal_pw",
            groups="base.group_portal",
        )
        cls.portal.partner_id.parent_id = customer
        cls.other_portal = new_test_user(
            cls.env,
            login="close_other",
            password="close_other_pw",
            groups="base.group_portal",
        )
        cls.other_portal.partner_id.parent_id = other
        Ticket = cls.env["helpdesk.ticket"]
        cls.ticket = Ticket.create(
            {
                "name": "Mine",
                "description": "<p>x</p>",
                "partner_id": cls.portal.partner_id.id,
            }
        )
        cls.open_stage = cls.ticket.stage_id

    def _close(self, ticket, **extra):
        return self.url_open(
            "/ticket/close",
            data={
                "ticket_id": ticket.id,
                "stage_id": self.done.id,
                "csrf_token": http.Request.csrf_token(self),
            }
            | extra,
            allow_redirects=False,
        )

    def test_other_users_ticket_is_refused(self):
        self.authenticate("close_other", "close_other_pw")
        response = self._close(self.ticket)
        self.assertEqual(response.status_code, 404)
        self.ticket.invalidate_recordset()
        self.assertEqual(self.ticket.stage_id, self.open_stage)

    def test_get_is_refused(self):
        self.authenticate("close_portal", "close_portal_pw")
        response = self.url_open(
            f"/ticket/close?ticket_id={self.ticket.id}&stage_id={self.done.id}",
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 405)
        self.ticket.invalidate_recordset()
        self.assertEqual(self.ticket.stage_id, self.open_stage)

    def test_post_without_csrf_is_refused(self):
        self.authenticate("close_portal", "close_portal_pw")
        response = self.url_open(
            "/ticket/close",
            data={"ticket_id": self.ticket.id, "stage_id": self.done.id},
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 400)
        self.ticket.invalidate_recordset()
        self.assertEqual(self.ticket.stage_id, self.open_stage)

    def test_stage_customers_may_not_close_to_is_refused(self):
        self.authenticate("close_portal", "close_portal_pw")
        cancelled = self.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_cancelled")
        cancelled.close_from_portal = False
        response = self._close(self.ticket, stage_id=cancelled.id)
        self.assertEqual(response.status_code, 302)
        self.ticket.invalidate_recordset()
        self.assertEqual(self.ticket.stage_id, self.open_stage)

    def test_own_ticket_is_closed_by_post(self):
        self.authenticate("close_portal", "close_portal_pw")
        response = self._close(self.ticket)
        self.assertEqual(response.status_code, 302)
        self.assertTrue(
            response.headers["Location"].endswith(f"/my/ticket/{self.ticket.id}")
        )
        self.ticket.invalidate_recordset()
        self.assertEqual(self.ticket.stage_id, self.done)

    def test_portal_page_posts_the_close_form(self):
        self.authenticate("close_portal", "close_portal_pw")
        page = self.url_open(f"/my/ticket/{self.ticket.id}").text
        self.assertIn('action="/ticket/close"', page)
        form = re.search(r"<form[^>]*/ticket/close[^>]*>", page).group(0)
        self.assertIn('method="POST"', form)
        self.assertIn('name="csrf_token"', page)
