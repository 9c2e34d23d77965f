from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.defining_retainer.tests.screenshots import SIZES, ScreenshotMixin

from .common_portal import RetainerHelpdeskPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_helpdesk")
class TestPortalTicketScreenshots(ScreenshotMixin, RetainerHelpdeskPortalCommon):
    """Screenshots of the retainer's page with its tickets and "Open a
    ticket", and of a ticket's page with its retainer, at desktop width.

    Always taken and checked; written to ``$RETAINER_SCREENSHOTS_DIR`` (the
    repository's ``docs/screenshots``) only when that variable is set.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ticket.user_id = cls.consultant
        cls._log_call(cls.ticket)
        cls._log_call(cls.ticket, hours=0.5, name="Driver reinstalled remotely")
        cls._create_ticket("New starter laptop", cls.portal_user, cls.retainer)

    def test_screenshots(self):
        pages = {
            "portal_retainer_tickets": f"/my/retainers/{self.retainer.id}",
            "portal_ticket_retainer": f"/my/ticket/{self.ticket.id}",
        }
        width, height, mobile = SIZES["desktop"]
        browser = ChromeBrowser(self)
        try:
            self.authenticate(
                self.portal_user.login, self.portal_user.login, browser=browser
            )
            self.cr.flush()
            for page, url in pages.items():
                with self.subTest(page=page):
                    png = self._capture(browser, url, width, height, mobile)
                    self._check_and_save(png, f"{page}_desktop", width, height)
        finally:
            browser.stop()
            self._wait_remaining_requests()
