import base64
import os
import struct
import time
from datetime import timedelta
from pathlib import Path

from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser

from .common import RetainerPortalCommon

SCREENSHOTS_ENV = "RETAINER_SCREENSHOTS_DIR"
SIZES = {"desktop": (1366, 900, False), "phone": (390, 844, True)}
MAX_HEIGHT = 4000


class ScreenshotMixin:
    """Full-page screenshots in headless Chromium (``ChromeBrowser``)."""

    def _capture(self, browser, url, width, height, mobile, script=None):
        """PNG of ``url`` at ``width`` x ``height``; ``script`` (JavaScript)
        runs once the page is ready, e.g. to open a dialog."""
        browser._websocket_request(
            "Emulation.setDeviceMetricsOverride",
            params={
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": mobile,
            },
        )
        browser.navigate_to(self.base_url() + url, wait_stop=True)
        self.assertTrue(
            browser._wait_ready(
                "document.readyState === 'complete' && "
                "!!document.querySelector('.o_portal_wrap')"
            )
        )
        if script:
            browser._websocket_request(
                "Runtime.evaluate", params={"expression": script}
            )
            time.sleep(1.5)
        browser._websocket_request(
            "Runtime.evaluate",
            params={
                "expression": "document.fonts.ready.then(() => true)",
                "awaitPromise": True,
            },
        )
        time.sleep(0.5)
        metrics = browser._websocket_request("Page.getLayoutMetrics")
        full_height = min(int(metrics["cssContentSize"]["height"]), MAX_HEIGHT)
        shot = browser._websocket_request(
            "Page.captureScreenshot",
            params={
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": width,
                    "height": max(full_height, height),
                    "scale": 1,
                },
            },
            timeout=30,
        )
        return base64.b64decode(shot["data"])

    def _check_and_save(self, png, name, width, height):
        """Check ``png`` is a real screenshot of that size and write it to
        ``$RETAINER_SCREENSHOTS_DIR/<name>.png`` when that is set."""
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        png_width, png_height = struct.unpack(">II", png[16:24])
        self.assertEqual(png_width, width)
        self.assertGreaterEqual(png_height, height)
        self.assertGreater(len(png), 10000)
        out_dir = os.environ.get(SCREENSHOTS_ENV)
        if out_dir:
            path = Path(out_dir)
            path.mkdir(parents=True, exist_ok=True)
            (path / f"{name}.png").write_bytes(png)


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
