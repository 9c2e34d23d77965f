"""What the customer reads: durations as people write them, the page laid
out like Odoo's order page, the /my tile, plurals."""

import re

from odoo.tests import tagged

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalLanguage(RetainerPortalCommon):
    def _page(self, retainer=None, **params):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(retainer or self.retainer, **params))
        self.assertEqual(response.status_code, 200)
        return response.text

    def test_durations_never_look_like_clock_times(self):
        page = self._page()
        balance = self.retainer.balance_hours
        self.assertIn(
            self.env["retainer.contract"]._format_duration(
                balance, day_hours=self.retainer.day_hours
            ),
            page,
        )
        self.assertIn("Purchased 21 h,", page)  # 84 units of 15 minutes
        self.assertIn("one day 7 h)", page)
        # No duration written as a clock time (dates and times of day aside).
        self.assertFalse(re.search(r">\s*-?\d{1,3}:\d\d\s*<", page))

    def test_sidebar_names_the_account_manager(self):
        page = self._page()
        self.assertIn("Your contact", page)
        self.assertIn(self.manager.name, page)
        self.assertIn('href="#retainer_conversation"', page)
        self.assertIn("Send a message", page)
        for anchor in ("retainer_usage", "retainer_topups", "retainer_statement"):
            self.assertIn(f'href="#{anchor}"', page)
            self.assertIn(f'id="{anchor}"', page)

    def test_balance_and_usage_come_before_buying(self):
        """On a phone the page reads in the order of the document: the
        balance, then the usage, then the forms to buy or ask for time."""
        page = self._page()
        balance = page.index("o_retainer_balance")
        usage = page.index('id="retainer_usage"')
        topup = page.index("o_retainer_actions")
        self.assertLess(balance, usage)
        self.assertLess(usage, topup)

    def test_home_tile_says_balance_and_alert(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        home = self.url_open("/my").text
        self.assertIn("o_retainer_home_summary", home)
        self.assertIn(f"{self.retainer.name}: <strong>", home)
        self.assertIn(f"{self.retainer.balance_units} units", home)
        self.assertNotIn("o_retainer_home_alert", home)
        self.assertNotIn(self.other_retainer.name, home)
        self._post_usage(self.retainer, 40, first_days_ago=30, step_days=0)
        self.retainer.invalidate_recordset()
        self.assertLess(self.retainer.balance_units, 0)
        home = self.url_open("/my").text
        self.assertIn(f"Overdrawn by {-self.retainer.balance_units} units", home)

    def test_one_entry_is_an_entry(self):
        lonely = self._create_retainer(self.customer)
        self._post_credit(lonely, 28, "One day", days_ago=5)
        self._post_usage(lonely, 1, first_days_ago=2, step_days=1)
        page = self._page(lonely, groupby="month")
        self.assertIn("(1 entry)", page)
        self.assertNotIn("(1 entries)", page)
