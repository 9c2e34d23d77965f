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
        self._assert_same_queries()
        # The grouped view really groups: month headers with their totals.
        response = self.url_open(self._detail_url(self.large) + "?groupby=month")
        self.assertIn("o_retainer_month_header", response.text)
        self.assertIn(f"({LARGE} entries)", response.text)

    def _assert_same_queries(self):
        """The detail page, in each of its views, costs the small and the
        large retainer the same queries."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        start = (self.today - timedelta(days=400)).isoformat()
        for query in [
            "",
            "?groupby=month",
            f"?groupby=month&date_from={start}&date_to={self.today.isoformat()}",
            "?search=Backup",
            "?groupby=incident",
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


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalQueryCountDatedBlocks(TestPortalQueryCount):
    """The same with dated blocks, some expired: the page's block figures
    come from a replay that starts from the retainer's newest checkpoint,
    not from its first entry."""

    @classmethod
    def setUpClass(cls):
        super(TestPortalQueryCount, cls).setUpClass()
        Ledger = cls.env["retainer.ledger.entry"]
        cls.small = cls._create_retainer(cls.customer)
        cls.large = cls._create_retainer(cls.customer)
        for retainer, count in ((cls.small, SMALL), (cls.large, LARGE)):
            for index in range(12):
                day = cls.today - timedelta(days=800 - index * 60)
                Ledger._post(
                    [
                        {
                            "contract_id": retainer.id,
                            "kind": "credit",
                            "units": 2800,
                            "reason": f"Block {index}",
                            "date": day,
                            "expiry_date": day + timedelta(days=120)
                            if index < 11
                            else cls.today + timedelta(days=365),
                        }
                    ]
                )
            Ledger._post(
                [
                    cls._usage_vals(
                        retainer,
                        index,
                        cls.today - timedelta(days=index * 700 // count),
                    )
                    for index in range(count)
                ]
            )
        cls.env["retainer.contract"]._retainer_expire_blocks()
        # A posting after the job: the large ledger's newest checkpoint.
        Ledger._post([cls._usage_vals(cls.large, 0, cls.today)])
        Ledger._post([cls._usage_vals(cls.small, 0, cls.today)])

    def test_detail_query_count(self):
        replay = self.env["retainer.ledger.entry"]._retainer_replay(self.large.ids)
        self.assertTrue(replay[self.large.id].since, "a checkpoint is used")
        self.assertTrue(replay[self.large.id].processed, "blocks expired")
        self.assertGreater(self.large.ledger_entry_count, LARGE + 12)
        self._assert_same_queries()
