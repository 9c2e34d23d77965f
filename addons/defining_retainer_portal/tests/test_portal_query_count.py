import logging
from datetime import timedelta

from odoo.tests import tagged

from .common import RetainerPortalCommon

_logger = logging.getLogger(__name__)

SMALL, LARGE = 20, 2000


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalQueryCount(RetainerPortalCommon):
    """The detail page costs the same number of queries whatever the size of
    the ledger: it pages the entries and totals them with grouped reads."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.small = cls._create_retainer(cls.customer)
        cls.large = cls._create_retainer(cls.customer)
        for retainer, count in ((cls.small, SMALL), (cls.large, LARGE)):
            # More top-ups than the page lists, then usage spread over about
            # two years, posted in one batch.
            for index in range(12):
                cls._post_credit(
                    retainer, 2800, f"Block {index}", days_ago=800 - index * 60
                )
            cls.env["retainer.ledger.entry"]._post(
                [
                    cls._usage_vals(
                        retainer,
                        index,
                        cls.today - timedelta(days=index * 700 // count),
                    )
                    for index in range(count)
                ]
            )

    def _queries(self, url):
        before = self.cr.sql_log_count
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        return self.cr.sql_log_count - before

    def test_detail_query_count(self):
        self.assertEqual(self.large.ledger_entry_count, LARGE + 12)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        start = (self.today - timedelta(days=400)).isoformat()
        for query in [
            "",
            "?groupby=month",
            f"?groupby=month&date_from={start}&date_to={self.today.isoformat()}",
            "?search=Backup",
        ]:
            with self.subTest(query=query):
                small_url = self._detail_url(self.small) + query
                large_url = self._detail_url(self.large) + query
                # Warm the caches (routing, views, translations) first.
                self.url_open(small_url)
                self.url_open(large_url)
                small = self._queries(small_url)
                large = self._queries(large_url)
                _logger.info(
                    "detail page%s: %s queries with %s entries, %s with %s",
                    query,
                    small,
                    SMALL,
                    large,
                    LARGE,
                )
                self.assertEqual(small, large)
        # The grouped view really groups: month headers with their totals.
        response = self.url_open(self._detail_url(self.large) + "?groupby=month")
        self.assertIn("o_retainer_month_header", response.text)
        self.assertIn(f"({LARGE} entries)", response.text)
