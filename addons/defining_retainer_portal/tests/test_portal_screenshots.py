from datetime import timedelta

from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.defining_retainer.tests.screenshots import SIZES, ScreenshotMixin

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalScreenshots(ScreenshotMixin, RetainerPortalCommon):
    """Screenshots of the list and detail pages at desktop and phone width,
    from a demo-like dataset, in headless Chromium.

    Always taken and checked; written to ``$RETAINER_SCREENSHOTS_DIR`` (the
    repository's ``docs/screenshots``) only when that variable is set.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A 5-day pack valid 3 months, most of it used, the rest expiring in
        # 12 days: the page shows the block figures and the expiry notice.
        cls.retainer._post_manual_entry(
            "credit",
            140,
            "5-day pack, valid 3 months",
            date=cls.today - timedelta(days=75),
            expiry_date=cls.today + timedelta(days=12),
        )
        cls._post_credit(cls.retainer, 56, "Top-up of 2 days", days_ago=20)
        cls._post_usage(cls.retainer, 18, first_days_ago=110, step_days=6)
        cls.env["retainer.ledger.entry"]._post(
            [
                {
                    "contract_id": cls.retainer.id,
                    "kind": "adjustment",
                    "units": 4,
                    "reason": "Goodwill: one hour after the mail outage",
                    "date": cls.today - timedelta(days=8),
                }
            ]
        )
        cls.old_retainer = cls._create_retainer(cls.customer)
        cls._post_credit(cls.old_retainer, 28, "Pilot day", days_ago=400)
        cls._post_usage(cls.old_retainer, 3, first_days_ago=380, step_days=20)
        cls.old_retainer.action_close()

    def test_screenshots(self):
        pages = {
            "retainer_list": "/my/retainers",
            "retainer_detail": f"/my/retainers/{self.retainer.id}",
            "retainer_detail_by_month": f"/my/retainers/{self.retainer.id}"
            "?groupby=month",
        }
        browser = ChromeBrowser(self)
        try:
            self.authenticate(
                self.portal_user.login, self.portal_user.login, browser=browser
            )
            self.cr.flush()
            for page, url in pages.items():
                for size, (width, height, mobile) in SIZES.items():
                    with self.subTest(page=page, size=size):
                        png = self._capture(browser, url, width, height, mobile)
                        self._check_and_save(png, f"{page}_{size}", width, height)
        finally:
            browser.stop()
            self._wait_remaining_requests()
