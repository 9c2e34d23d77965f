"""Screenshots of pages in headless Chromium, for the READMEs.

Always taken and checked by the tests that use them; written to
``$RETAINER_SCREENSHOTS_DIR`` (the repository's ``docs/screenshots``) only
when that variable is set.
"""

import base64
import os
import struct
import time
from pathlib import Path

SCREENSHOTS_ENV = "RETAINER_SCREENSHOTS_DIR"
SIZES = {"desktop": (1366, 900, False), "phone": (390, 844, True)}
MAX_HEIGHT = 4000


class ScreenshotMixin:
    """Full-page screenshots in headless Chromium (``ChromeBrowser``)."""

    def _capture(
        self,
        browser,
        url,
        width,
        height,
        mobile,
        script=None,
        ready=".o_portal_wrap",
    ):
        """PNG of ``url`` at ``width`` x ``height``, once the element
        ``ready`` (a CSS selector) is on the page; ``script`` (JavaScript)
        runs then, e.g. to open a dialog."""
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
                f"!!document.querySelector({ready!r})"
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
