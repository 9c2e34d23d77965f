from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.defining_retainer.tests.screenshots import SIZES, ScreenshotMixin


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestHelpdeskStaffScreenshots(ScreenshotMixin, HttpCase):
    """The staff ticket form as the READMEs show it, on the demo data: a
    ticket with its retainer, balance, timesheets and deadlines."""

    def test_staff_ticket_screenshot(self):
        ticket = self.env.ref("defining_retainer_helpdesk.ticket_acme_demo")
        self.assertTrue(ticket.retainer_id, "the demo ticket's retainer")
        self.assertTrue(ticket.timesheet_ids.retainer_units)
        width, height, mobile = SIZES["desktop"]
        browser = ChromeBrowser(self)
        try:
            self.authenticate("admin", "admin", browser=browser)
            self.cr.flush()
            png = self._capture(
                browser,
                f"/odoo/helpdesk.ticket/{ticket.id}",
                width,
                height,
                mobile,
                script="document.querySelector('a[name=\"timesheets\"]').click()",
                ready=".o_form_view div[name='retainer_id']",
            )
            self._check_and_save(png, "staff_ticket", width, height)
        finally:
            browser.stop()
            self._wait_remaining_requests()
