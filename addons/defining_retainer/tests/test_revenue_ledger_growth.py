from collections import defaultdict
from contextlib import contextmanager
from datetime import date, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.sql_db import Cursor
from odoo.tests import tagged
from odoo.tools import SQL

from ..models.retainer_ledger_entry import REPLAY_COLUMNS
from ..tools.allocation import LedgerReplay
from ..tools.revenue import earned_value, units_by_pool
from .common_revenue import RetainerRevenueCommon

TODAY = date(2026, 3, 15)
CUTOFF = date(2026, 2, 28)
UNITS_PER_DAY = 28


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestRevenueLedgerGrowth(RetainerRevenueCommon):
    """The recognition of a retainer with dated blocks costs the same
    queries and reads the same ledger rows whatever the size of its ledger:
    the units its blocks paid for are those of the replay from its newest
    checkpoint, and beside it only blocks and expiries are read. What it
    recognises is what the replay of the whole ledger gives."""

    def setUp(self):
        super().setUp()
        self.Ledger = self.env["retainer.ledger.entry"]
        self.company.write(
            {"retainer_rollover_max_units": 2, "retainer_rollover_validity_months": 1}
        )
        self.small = self._sold_retainer(10)
        self.large = self._sold_retainer(500)

    def _sold_retainer(self, size):
        """A retainer sold a year ago as many days as its blocks hold, then
        topped up from that line by a block a month (each valid two months,
        expired and rolled over by the expiry job), with ``size`` entries
        of work, one in twenty corrected; its newest checkpoint is after
        them, and later postings (the same on every retainer) follow.
        Return its sold line."""
        start = TODAY - timedelta(days=360)
        units = 5 * size // 12 + 5
        partner = self.env["res.partner"].create(
            {"name": f"Ledger of {size}", "is_company": True}
        )
        with freeze_time(start):
            order, _invoice = self._sell(
                (12 * units) // UNITS_PER_DAY + 1, partner=partner
            )
        contract = order.retainer_id
        contract.overdraft_policy = "warn"
        self.Ledger._insert_entries(
            [
                {
                    "contract_id": contract.id,
                    "kind": "credit",
                    "units": units,
                    "date": start + timedelta(days=30 * month),
                    "expiry_date": start + timedelta(days=30 * month + 60),
                    "sale_line_id": order.order_line.id,
                    "reason": f"Block {month}",
                }
                for month in range(12)
            ]
        )
        work = self._insert_work(contract, start, size, 360)
        self.env["retainer.contract"]._retainer_expire_blocks()
        # The checkpoint a posting leaves after the ledger (the entries
        # above are inserted below the posting path).
        self.Ledger._retainer_write_checkpoint(
            contract.id, self._whole_replays(contract)[contract.id]
        )
        # Then, on every retainer alike: work of last month, work logged
        # late on a block that expired (its expiry is corrected), and the
        # correction of the first work, paid in full long before the
        # checkpoint.
        for units, day in (
            (2, CUTOFF - timedelta(days=10)),
            (3, start + timedelta(50)),
        ):
            self.Ledger._post(
                [
                    {
                        "contract_id": contract.id,
                        "kind": "debit",
                        "units": -units,
                        "date": day,
                        "name": "More work",
                    }
                ]
            )
        work[1]._reverse(reason="Corrected")
        return order.order_line

    def _whole_replays(self, contracts):
        """The replays of the whole ledgers (no checkpoint is before entry
        1)."""
        return self.Ledger._retainer_replay(
            contracts.ids, paid_by_from=dict.fromkeys(contracts.ids, 1)
        )

    def _whole_units(self, sale_lines):
        """``(used, expired)`` units per sold line at ``CUTOFF``, from every
        row of the ledgers replayed whole: what the recognition read before
        it started from checkpoints."""
        contracts = sale_lines.order_id.retainer_id
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT %s, sale_line_id, is_block FROM retainer_ledger_entry "
                "WHERE contract_id IN %s ORDER BY id",
                SQL(", ").join(SQL.identifier(name) for name in REPLAY_COLUMNS),
                tuple(contracts.ids),
            )
        )
        rows = self.env.cr.fetchall()
        by_contract = defaultdict(list)
        for row in rows:
            by_contract[row[1]].append(row[: len(REPLAY_COLUMNS)])
        replays = {
            contract_id: LedgerReplay.from_rows(contract_rows)
            for contract_id, contract_rows in by_contract.items()
        }
        return units_by_pool(rows, set(sale_lines.ids), replays, CUTOFF)

    @contextmanager
    def _counting(self):
        """``{"queries": n, "rows": n}`` of what the block runs: queries,
        and rows fetched from the ledger."""
        counts = {"queries": 0, "rows": 0}

        def counting_fetchall(cursor):
            # Cursor hands fetchall() over to its psycopg2 cursor.
            rows = cursor._obj.fetchall()
            if b"retainer_ledger_entry" in (cursor._obj.query or b""):
                counts["rows"] += len(rows)
            return rows

        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        with patch.object(Cursor, "fetchall", counting_fetchall, create=True):
            yield counts
            self.env.flush_all()
        counts["queries"] = self.env.cr.sql_log_count - before

    def _pools(self, sale_line):
        return self.env["retainer.revenue.line"]._retainer_pools(
            CUTOFF, sale_lines=sale_line
        )

    def test_ledgers_are_as_built(self):
        for sale_line, least in ((self.small, 10), (self.large, 500)):
            contract = sale_line.order_id.retainer_id
            self.assertGreater(
                self.Ledger.search_count([("contract_id", "=", contract.id)]), least
            )
            replay = self.Ledger._retainer_replay(contract.ids)[contract.id]
            self.assertTrue(replay.since, "the replay starts from a checkpoint")
            self.assertTrue(replay.expired, "blocks expired")
            self.assertTrue(replay.live_rollovers, "blocks rolled over")

    def test_recognition_costs_the_same_with_10_and_500_entries(self):
        # Warm-up, fresh cache too: the caches of the registry.
        for sale_line in (self.small, self.large):
            with self._counting():
                self._pools(sale_line)
        figures = []
        for sale_line in (self.small, self.large):
            with self._counting() as counts:
                self._pools(sale_line)
            figures.append(counts)
        self.assertEqual(figures[0], figures[1])
        # What it read of the large ledger: its blocks and expiries, and the
        # checkpoint with the entries after it.
        contract = self.large.order_id.retainer_id
        replay = self.Ledger._retainer_replay(contract.ids)[contract.id]
        domain = [("contract_id", "=", contract.id)]
        self.assertEqual(
            figures[1]["rows"],
            self.Ledger.search_count(
                domain
                + ["|", ("is_block", "=", True), ("effective_kind", "=", "expiry")]
            )
            + self.Ledger.search_count(domain + [("id", ">", replay.since)])
            + 1,
        )

    def test_recognition_is_the_whole_replays(self):
        sale_lines = self.small | self.large
        used, expired = self._whole_units(sale_lines)
        pools = self._pools(sale_lines)
        self.assertEqual(
            {
                line: (pools[line].used_units, pools[line].expired_units)
                for line in pools
            },
            {line: (used[line], expired[line]) for line in sale_lines.ids},
        )
        self.assertTrue(all(used.values()) and all(expired.values()))
        move = self._recognize(CUTOFF)
        revenue = {}
        breakage = {}
        for line in move.line_ids:
            if line.account_id == self.revenue:
                revenue[line.partner_id] = -line.balance
            elif line.account_id == self.breakage:
                breakage[line.partner_id] = -line.balance
        currency = self.company.currency_id
        for sale_line in sale_lines:
            pool = pools[sale_line.id]
            earned = earned_value(
                pool.amount,
                pool.paid_units,
                used[sale_line.id],
                expired[sale_line.id],
                currency.round,
            )
            partner = sale_line.order_id.partner_id
            self.assertEqual(revenue[partner], earned.used)
            self.assertEqual(breakage[partner], earned.expired)
