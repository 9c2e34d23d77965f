import logging
import re
from datetime import timedelta

from lxml import html

from odoo.tests import tagged
from odoo.tools import format_date

from odoo.addons.defining_retainer.tests.common import html_texts

from .common import RetainerPortalCommon

_logger = logging.getLogger(__name__)

MANY_BLOCKS = 50


def _texts(page, css_class):
    """Whitespace-normalised text of each element of ``page`` (HTML) whose
    class list contains ``css_class``."""
    return html_texts(
        page,
        f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {css_class} ')]",
    )


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalBlocks(RetainerPortalCommon):
    """Customers see their top-up blocks: expiry date, used, expired and
    remaining units, what expires soon, and on the statement which block
    paid for each usage line."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.blocks_retainer = cls._create_retainer(
            cls.customer, rollover_max_units=4, rollover_validity_months=3
        )
        today = cls.today
        # Bought 120 days ago, valid until 30 days ago, never used: it
        # expired, and 4 of its 12 units rolled over into a new block.
        cls.old_block = cls._post_block(
            cls.blocks_retainer, 12, "Spring block", 120, today - timedelta(days=30)
        )
        # Bought 60 days ago, expires in 10 days; 8 units used below.
        cls.soon_block = cls._post_block(
            cls.blocks_retainer, 28, "Summer block", 60, today + timedelta(days=10)
        )
        cls.undated_block = cls._post_block(
            cls.blocks_retainer, 40, "Open block", 50, None
        )
        cls._post_usage(cls.blocks_retainer, 1, first_days_ago=5, step_days=1)
        cls.env["retainer.contract"]._retainer_expire_blocks()
        Ledger = cls.env["retainer.ledger.entry"]
        cls.rolled_block = Ledger.search(
            [("block_entry_id", "=", cls.old_block.id), ("kind", "=", "credit")]
        )
        cls.usage = Ledger.search(
            [("contract_id", "=", cls.blocks_retainer.id), ("kind", "=", "debit")]
        )

    @classmethod
    def _post_block(cls, retainer, units, reason, days_ago, expiry_date):
        return retainer._post_manual_entry(
            "credit",
            units,
            reason,
            date=cls.today - timedelta(days=days_ago),
            expiry_date=expiry_date,
        )

    def _date(self, value):
        return format_date(self.env(context={"lang": "en_US"}), value)

    def test_block_figures(self):
        """The fixture is what the pages below show."""
        self.assertEqual(len(self.rolled_block), 1)
        self.assertEqual(self.rolled_block.units, 4)
        self.assertEqual(-self.usage.units, 15)  # 3h37 on-site
        figures = [
            (block.consumed_units, block.expired_units, block.remaining_units)
            for block in (
                self.old_block,
                self.soon_block,
                self.undated_block,
                self.rolled_block,
            )
        ]
        # The usage took the block that expires first; the rolled block came
        # later (it covers only new work or an overdraft).
        self.assertEqual(figures, [(0, 12, 0), (15, 0, 13), (0, 0, 40), (0, 0, 4)])

    def test_detail_page_shows_blocks_and_expiry_notice(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.blocks_retainer))
        self.assertEqual(response.status_code, 200)
        soon = self._date(self.today + timedelta(days=10))
        self.assertEqual(
            _texts(response.text, "o_retainer_expiring_line"),
            [f"13 units expire on {soon}."],
        )
        rows = _texts(response.text, "o_retainer_topup_row")
        summer = next(row for row in rows if "Summer block" in row)
        self.assertRegex(summer, rf"\+28 .*{re.escape(soon)} 15 0 13$")
        spring = next(
            row for row in rows if "Spring block" in row and "Rolled" not in row
        )
        expired_on = self._date(self.today - timedelta(days=30))
        self.assertRegex(spring, rf"\+12 .*{re.escape(expired_on)} 0 12 0$")
        self.assertRegex(
            next(row for row in rows if "Open block" in row), r"No expiry 0 0 40$"
        )
        rolled = next(row for row in rows if "Rolled over" in row)
        self.assertRegex(rolled, r"\+4 .* 0 0 4$")

    def test_block_credited_after_work_it_could_have_paid_is_marked(self):
        """The page promises that time uses the blocks that expire first: a
        top-up credited after work already paid by a block without expiry
        says why it did not pay for it, in its row."""
        retainer = self._create_retainer(self.customer)
        self._post_block(retainer, 40, "Open credit", 20, None)
        self._post_usage(retainer, 1, first_days_ago=10, step_days=1)
        expiring = self._post_block(
            retainer, 28, "Back-dated top-up", 15, self.today + timedelta(days=20)
        )
        self.assertEqual(expiring.remaining_units, 28)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(retainer))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            _texts(response.text, "o_retainer_block_stranded"),
            [
                (
                    "Credited after work it could have paid: 15 units (3 h 45 min) "
                    "of earlier work stay paid by blocks that expire later."
                )
            ],
        )
        rows = _texts(response.text, "o_retainer_topup_row")
        marked = next(row for row in rows if "Back-dated top-up" in row)
        self.assertIn("could have paid", marked)
        self.assertNotIn(
            "could have paid", next(row for row in rows if "Open credit" in row)
        )
        self.assertIn(
            "even when it expires first (the top-up then says so)",
            " ".join(_texts(response.text, "o_retainer_block_rule")),
        )

    def test_no_notice_without_blocks_expiring_soon(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("o_retainer_expiring", response.text)
        self.assertIn("No expiry", response.text)

    def test_statement_shows_blocks_and_who_paid(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(
            self._detail_url(
                self.blocks_retainer,
                suffix="/statement",
                report_type="html",
                date_from=(self.today - timedelta(days=40)).isoformat(),
                date_to=self.today.isoformat(),
            )
        )
        self.assertEqual(response.status_code, 200)
        text = response.text
        soon = self._date(self.today + timedelta(days=10))
        self.assertEqual(
            _texts(text, "o_retainer_expiring_line"), [f"13 units expire on {soon}."]
        )
        blocks = _texts(text, "o_retainer_statement_block")
        # Oldest first: the spring block (expired in the period), the summer
        # and open blocks (units left), the rolled-over block.
        self.assertEqual(len(blocks), 4, blocks)
        self.assertRegex(blocks[0], r"^B1 .*Spring block 12 .* 0 12 0$")
        self.assertRegex(
            blocks[1], rf"^B2 .*Summer block 28 {re.escape(soon)} 15 0 13$"
        )
        self.assertRegex(blocks[2], r"^B3 .*Open block 40 No expiry 0 0 40$")
        self.assertRegex(blocks[3], r"^B4 .*Rolled over: .* 4 .* 0 0 4$")
        lines = dict(
            zip(
                self._line_names(text),
                _texts(text, "o_retainer_statement_line_block"),
                strict=True,
            )
        )
        # The usage was paid by the summer block; the expiry and the
        # rollover name their block.
        self.assertEqual(lines["Server recovery after power cut"], "B2")
        self.assertEqual(lines["Expiry"], "B1")
        self.assertEqual(lines["Rolled over"], "B4, from B1")

    def _line_names(self, text):
        """Per statement line: the usage description, else the entry type."""
        tree = html.fromstring(text)
        names = []
        for row in tree.xpath(
            "//table[contains(@class, 'o_retainer_statement_lines')]/tbody/tr"
            "[td[contains(@class, 'o_retainer_statement_line_block')]]"
        ):
            kind, description = (
                " ".join(cell.text_content().split()) for cell in row.xpath("td")[1:3]
            )
            names.append(description if kind == "Usage" else kind)
        return names


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalBlocksQueryCount(RetainerPortalCommon):
    """The detail page and the statement cost the same number of queries
    with 1 block and with 50: the figures of all the blocks come from one
    replay of the ledger."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.one = cls._create_retainer(cls.customer, rollover_max_units=8)
        cls.many = cls._create_retainer(cls.customer, rollover_max_units=8)
        Ledger = cls.env["retainer.ledger.entry"]
        for retainer, count in ((cls.one, 1), (cls.many, MANY_BLOCKS)):
            # Blocks bought over the last 200 days: some expired (and rolled
            # over), some expiring within 30 days, some without expiry.
            Ledger._post(
                [
                    {
                        "contract_id": retainer.id,
                        "kind": "credit",
                        "units": 28,
                        "reason": f"Block {index}",
                        "date": cls.today - timedelta(days=200 - index * 4),
                        "expiry_date": (
                            cls.today + timedelta(days=index * 7 - 150)
                            if index % 3
                            else False
                        ),
                    }
                    for index in range(1, count + 1)
                ]
            )
            cls._post_usage(retainer, 20, first_days_ago=190, step_days=9)
        cls.env["retainer.contract"]._retainer_expire_blocks()

    def _queries(self, url):
        before = self.cr.sql_log_count
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        return self.cr.sql_log_count - before, response.text

    def test_same_queries_with_1_and_50_blocks(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        period = {
            "report_type": "html",
            "date_from": (self.today - timedelta(days=200)).isoformat(),
            "date_to": self.today.isoformat(),
        }
        for suffix, params, row_class in [
            ("", {}, "o_retainer_topup_row"),
            ("/statement", period, "o_retainer_statement_block"),
        ]:
            with self.subTest(page=suffix or "detail"):
                one_url = self._detail_url(self.one, suffix=suffix, **params)
                many_url = self._detail_url(self.many, suffix=suffix, **params)
                # Warm the caches (routing, views, translations) first.
                self.url_open(one_url)
                self.url_open(many_url)
                one, one_text = self._queries(one_url)
                many, many_text = self._queries(many_url)
                _logger.info(
                    "blocks%s: %s queries with 1 block, %s with %s",
                    suffix,
                    one,
                    many,
                    MANY_BLOCKS,
                )
                self.assertEqual(one, many)
                self.assertLess(
                    len(_texts(one_text, row_class)),
                    len(_texts(many_text, row_class)),
                )
