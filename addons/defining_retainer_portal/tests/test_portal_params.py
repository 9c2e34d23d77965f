from odoo.tests import tagged

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalParams(RetainerPortalCommon):
    """Hostile or broken URL parameters give a normal page or a 404, never a
    server error."""

    def test_bad_params_give_a_page(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        rid = self.retainer.id
        for url in [
            "/my/retainers?sortby=evil&filterby=evil&search_in=evil&search=x",
            "/my/retainers?sortby=&filterby=&groupby=evil",
            "/my/retainers?page=abc",
            "/my/retainers?page=-4",
            "/my/retainers/page/0",
            "/my/retainers/page/-1",
            "/my/retainers/page/99999999999999999999",
            "/my/retainers?search=" + "x" * 5000,
            f"/my/retainers/{rid}?groupby=evil&date_from=2025-99-99&date_to=soon",
            f"/my/retainers/{rid}?page=-3&groupby=month",
            f"/my/retainers/{rid}?page=abc",
            f"/my/retainers/{rid}/page/0",
            f"/my/retainers/{rid}/page/-1",
            f"/my/retainers/{rid}/page/999999999999999999999",
            f"/my/retainers/{rid}?date_from=0001-01-01&date_to=9999-12-31",
            f"/my/retainers/{rid}?date_from=2025-03-01&date_to=2025-01-01",
            f"/my/retainers/{rid}?search=%25%27%22%3Cscript%3E",
            f"/my/retainers/{rid}?search=" + "y" * 5000,
            f"/my/retainers/{rid}?report_type=exe&download=maybe",
            f"/my/retainers/{rid}?access_token=&access_token=x",
            f"/my/retainers/{rid}/statement?report_type=html&date_from=2025-02-30",
            f"/my/retainers/{rid}/statement?report_type=exe&download=no",
        ]:
            with self.subTest(url=url):
                response = self.url_open(url)
                self.assertEqual(response.status_code, 200)
                self.assertNotIn("'\"<script>", response.text)

    def test_bad_ids_give_404_or_refusal(self):
        """Malformed ids match no route (404); ids of nothing are refused
        like another customer's (redirect, no hint)."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        rid = self.retainer.id
        for url in [
            "/my/retainers/abc",
            "/my/retainers/1.5",
            "/my/retainers/page/abc",
            f"/my/retainers/{rid}/page/abc",
            "/my/retainers/abc/statement",
        ]:
            with self.subTest(url=url):
                self.assertEqual(self.url_open(url).status_code, 404)
        for url in [
            "/my/retainers/0",
            "/my/retainers/-5",
            "/my/retainers/99999999999999999999",
            "/my/retainers/2147483648/statement",
        ]:
            with self.subTest(url=url):
                # Refused to /my, whose tile names the customer's own
                # retainers: nothing of a retainer's page shows.
                self.assertRefused(
                    self.url_open(url),
                    "o_retainer_portal",
                    "Server recovery after power cut",
                )
