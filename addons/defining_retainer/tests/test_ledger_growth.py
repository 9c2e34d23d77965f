from datetime import date, timedelta

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL

from ..models.retainer_ledger_entry import CHECKPOINT_EVERY, NO_LIMIT
from .common import RetainerCommon

TODAY = date(2026, 3, 15)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestLedgerGrowth(RetainerCommon):
    """A posting, the statement and the block figures of a retainer with
    dated blocks cost the same queries whatever the size of its ledger: the
    replay of the allocation starts from the newest checkpoint, and gives
    what the replay of the whole ledger gives."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ledger = cls.env["retainer.ledger.entry"]
        cls.small, cls.small_project = cls._dated_retainer(10)
        cls.large, cls.large_project = cls._dated_retainer(500)

    @classmethod
    def _dated_retainer(cls, size):
        """A retainer with a block a month since last year (each valid two
        months, some expired) and about ``size`` entries of work, one in
        twenty corrected; a posting then wrote its newest checkpoint."""
        contract = cls._create_contract(
            cls.customer, cls.level_onsite, overdraft_policy="warn"
        )
        project = cls._create_project(contract)
        start = TODAY - timedelta(days=360)
        blocks = [
            {
                "contract_id": contract.id,
                "kind": "credit",
                "units": 5 * size // 12 + 5,
                "date": start + timedelta(days=30 * month),
                "expiry_date": start + timedelta(days=30 * month + 60),
                "reason": f"Block {month}",
            }
            for month in range(12)
        ] + [
            {
                "contract_id": contract.id,
                "kind": "credit",
                "units": 1000,
                "date": TODAY - timedelta(days=10),
                "expiry_date": TODAY + timedelta(days=365),
                "reason": "Current block",
            }
        ]
        cls.Ledger._insert_entries(blocks)
        cls._insert_work(contract, start, size, 360)
        cls.env["retainer.contract"]._retainer_expire_blocks()
        cls._post_work(contract, 1)
        return contract, project

    @classmethod
    def _post_work(cls, contract, units, day=TODAY):
        return cls.Ledger._post(
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

    def _queries(self, function):
        """Queries of ``function()`` with a fresh cache."""
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        function()
        self.env.flush_all()
        return self.cr.sql_log_count - before

    def _whole_replay(self, contract):
        """The replay of the whole ledger (no checkpoint is before entry 1)."""
        return self.Ledger._retainer_replay(
            contract.ids, paid_by_from={contract.id: 1}
        )[contract.id]

    def _assert_exact(self, contract):
        replay = self.Ledger._retainer_replay(contract.ids)[contract.id]
        whole = self._whole_replay(contract)
        self.assertTrue(replay.since, "the replay starts from a checkpoint")
        self.assertFalse(whole.since)
        self.assertEqual(replay.allocation.consumed, whole.allocation.consumed)
        self.assertEqual(replay.allocation.uncovered, whole.allocation.uncovered)
        self.assertEqual(replay.expired, whole.expired)
        self.assertEqual(replay.live_expiries, whole.live_expiries)
        self.assertEqual(replay.live_rollovers, whole.live_rollovers)
        self.assertEqual(replay.balance, whole.balance)
        self.assertEqual(replay.balance, contract.balance_units)
        for usage_id, paid in replay.allocation.paid_by.items():
            self.assertEqual(paid, whole.allocation.paid_by[usage_id])

    def _first_work(self, contract, condition):
        """The first work of ``contract`` (in posting order) that meets
        ``condition`` (a domain leaf)."""
        return self.Ledger.search(
            [("contract_id", "=", contract.id), ("kind", "=", "debit"), condition],
            order="id",
            limit=1,
        )

    def _correct_oldest_work(self, contract):
        """Reverse the oldest work not reversed yet (paid in full long
        ago), check the replay is still exact and return that work."""
        old = self._first_work(contract, ("reversal_entry_ids", "=", False))
        old._reverse(reason="Corrected")
        self._assert_exact(contract)
        return old

    def test_ledgers_are_as_built(self):
        counts = dict(
            self.Ledger._read_group(
                [("contract_id", "in", (self.small | self.large).ids)],
                ["contract_id"],
                ["__count"],
            )
        )
        self.assertLess(counts[self.small], 40)
        self.assertGreater(counts[self.large], 500)
        self.assertTrue(
            self.Ledger._retainer_replay(self.large.ids)[self.large.id].since
        )

    def test_save_costs_the_same_queries_with_10_and_500_entries(self):
        counts = []
        for project in (self.small_project, self.large_project):
            self._log(0.25, project=project)  # warm-up (caches of the registry)
            counts.append(
                self._queries(lambda project=project: self._log(0.5, project=project))
            )
        self.assertEqual(counts[0], counts[1])
        # The large ledger's replay read the entries since its checkpoint.
        replay = self.Ledger._retainer_replay(self.large.ids)[self.large.id]
        since = self.Ledger.search_count(
            [("contract_id", "=", self.large.id), ("id", ">", replay.since)]
        )
        self.assertLess(since, CHECKPOINT_EVERY)

    def test_statement_and_block_figures_cost_the_same_queries(self):
        date_from, date_to = date(2026, 2, 1), date(2026, 2, 28)
        counts = []
        for contract in (self.small, self.large):
            contract._statement_data(date_from, date_to)  # warm-up
            counts.append(
                (
                    self._queries(
                        lambda c=contract: c._statement_data(date_from, date_to)
                    ),
                    self._queries(
                        lambda c=contract: (c.expiring_units, c.next_expiry_date)
                    ),
                    self._queries(
                        lambda c=contract: c.block_ids.mapped("remaining_units")
                    ),
                )
            )
        self.assertEqual(counts[0], counts[1])

    def test_replay_from_the_checkpoint_is_the_whole_replay(self):
        contract = self.large
        self._assert_exact(contract)
        # Late work dated before earlier work, on an expired block.
        self._post_work(contract, 3, day=TODAY - timedelta(days=200))
        self._assert_exact(contract)
        # A correction of recent work, and of work a year old: the replay
        # starts from an older checkpoint, still exactly.
        recent = self.Ledger.search(
            [("contract_id", "=", contract.id), ("kind", "=", "debit")], limit=1
        )
        recent._reverse(reason="Corrected")
        self._assert_exact(contract)
        self._correct_oldest_work(contract)
        # A block taken away changes the whole history.
        block = self.Ledger.search(
            [("contract_id", "=", contract.id), ("is_block", "=", True)],
            order="id",
            limit=1,
        )
        block._reverse(reason="Credit note")
        self._assert_exact(contract)

    def test_a_posting_writes_a_checkpoint_every_so_many_entries(self):
        contract = self.large

        def checkpoints():
            self.env.cr.execute(
                "SELECT max(entry_id) FROM retainer_ledger_checkpoint "
                "WHERE contract_id = %s",
                [contract.id],
            )
            return self.env.cr.fetchone()[0]

        newest = checkpoints()
        self.assertTrue(newest)
        pending = self.Ledger.search_count(
            [("contract_id", "=", contract.id), ("id", ">", newest)]
        )
        for _index in range(CHECKPOINT_EVERY - pending - 1):
            self._post_work(contract, 1)
        self.assertEqual(checkpoints(), newest, "no checkpoint yet")
        entry = self._post_work(contract, 1)
        self.assertEqual(checkpoints(), entry.id)
        self._assert_exact(contract)

    def test_checkpoints_of_a_ledger_posted_before_them(self):
        contract = self.large
        self.env.cr.execute(
            "DELETE FROM retainer_ledger_checkpoint WHERE contract_id = %s",
            [contract.id],
        )
        self.Ledger._retainer_write_checkpoints(contract.ids)
        self.env.cr.execute(
            "SELECT entry_id FROM retainer_ledger_checkpoint "
            "WHERE contract_id = %s ORDER BY entry_id",
            [contract.id],
        )
        written = [row[0] for row in self.env.cr.fetchall()]
        count = self.Ledger.search_count([("contract_id", "=", contract.id)])
        self.assertEqual(len(written), count // CHECKPOINT_EVERY)
        # Each one is the state of the ledger after its entry: a replay
        # from any of them (what paid for the work after it) is exact. The
        # corrections at the end of this ledger reach back before most of
        # them: such a replay reads what paid for the corrected work from
        # the records of the checkpoints, or starts from an older one.
        whole = self._whole_replay(contract)
        for entry_id in written:
            replay = self.Ledger._retainer_replay(
                contract.ids, paid_by_from={contract.id: entry_id + 1}
            )[contract.id]
            self.assertEqual(replay.since, entry_id)
            self.assertEqual(replay.allocation.consumed, whole.allocation.consumed)
            self.assertEqual(replay.balance, whole.balance)
            for usage_id, paid in replay.allocation.paid_by.items():
                self.assertEqual(paid, whole.allocation.paid_by[usage_id])
        # A posting's replay starts from the newest one, the corrections
        # after it notwithstanding (what paid for the work they release is
        # recorded), and writes a checkpoint after them: later replays start
        # there and read no record.
        contract._lock_for_posting()
        newest = self.Ledger._retainer_current_replay(contract.ids)[contract.id]
        self.assertEqual(newest.since, written[-1])
        self.assertGreater(newest.entry_id, written[-1])
        self.assertEqual(
            self.Ledger._retainer_replay(contract.ids)[contract.id].since,
            newest.entry_id,
        )
        written.append(newest.entry_id)
        # Nothing more for a ledger that has checkpoints.
        self.Ledger._retainer_write_checkpoints(contract.ids)
        self.env.cr.execute(
            "SELECT count(*) FROM retainer_ledger_checkpoint WHERE contract_id = %s",
            [contract.id],
        )
        self.assertEqual(self.env.cr.fetchone()[0], len(written))

    def test_statement_after_a_correction_reaching_back_costs_the_same_queries(self):
        """Work paid in full long ago, corrected this month: the statement
        of the month still replays from the checkpoint before its work,
        reading what paid for the corrected work from the checkpoints'
        records, on 10 or 500 entries alike."""
        later = TODAY + timedelta(days=5)
        date_from, date_to = TODAY + timedelta(days=1), date(2026, 3, 31)
        counts = []
        with freeze_time(later):
            for contract in (self.small, self.large):
                # A checkpoint after the ledger as built, then the month's work.
                contract._lock_for_posting()
                self.Ledger._retainer_write_checkpoint(
                    contract.id, self._whole_replay(contract)
                )
                for _index in range(2 * CHECKPOINT_EVERY):
                    self._post_work(contract, 1, day=later)
                old = self._correct_oldest_work(contract)
                first = self._first_work(contract, ("date", ">=", date_from))
                self.assertEqual(first.date, later)
                replay = self.Ledger._retainer_replay(
                    contract.ids, paid_by_from={contract.id: first.id}
                )[contract.id]
                # From the checkpoint before the month's work, not from
                # before the corrected work (paid in full long before).
                self.assertGreater(replay.since, old.id)
                self.assertLess(replay.since, first.id)
                whole = self._whole_replay(contract)
                for usage_id, paid in whole.allocation.paid_by.items():
                    if usage_id >= first.id:
                        self.assertEqual(replay.allocation.paid_by[usage_id], paid)
                self.assertEqual(replay.allocation.consumed, whole.allocation.consumed)
                contract._statement_data(date_from, date_to)  # warm-up
                counts.append(
                    self._queries(
                        lambda c=contract: c._statement_data(date_from, date_to)
                    )
                )
        self.assertEqual(counts[0], counts[1])

    def test_replay_reads_the_entries_after_the_checkpoint_only(self):
        """The replay's query reads two ranges of indexes, the newest
        checkpoint and the entries after it, not the whole ledger filtered
        (sequential scans are off: the test database is too small for the
        planner to prefer an index)."""
        contract = self.large
        replay = self.Ledger._retainer_replay(contract.ids)[contract.id]
        self.assertTrue(replay.since)
        after = self.Ledger.search_count(
            [("contract_id", "=", contract.id), ("id", ">", replay.since)]
        )
        self.assertLess(after, CHECKPOINT_EVERY)
        query = self.Ledger._retainer_checkpoint_rows_query(
            contract.ids, {contract.id: NO_LIMIT}
        )
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        try:
            self.env.cr.execute(SQL("EXPLAIN (ANALYZE, FORMAT JSON) %s", query))
            [[[plan]]] = self.env.cr.fetchall()
        finally:
            self.env.cr.execute("RESET enable_seqscan")

        def read(node, table):
            """Rows the plan ``node`` read from ``table``, kept or not."""
            rows = 0
            if node.get("Relation Name") == table:
                rows += node["Actual Rows"] * node["Actual Loops"]
                rows += node.get("Rows Removed by Filter", 0)
                rows += node.get("Rows Removed by Index Recheck", 0)
            rows += node.get("Rows Removed by Join Filter", 0)
            return rows + sum(read(child, table) for child in node.get("Plans", ()))

        self.assertEqual(read(plan["Plan"], "retainer_ledger_checkpoint"), 1)
        self.assertEqual(read(plan["Plan"], "retainer_ledger_entry"), after)

    def test_statement_opening_is_the_balance_before_the_period(self):
        """The opening balance, read from the newest checkpoint and the
        entries after it, is the sum of the entries dated before the period,
        late postings dated earlier included; with or without a checkpoint."""
        date_from, date_to = date(2026, 2, 1), date(2026, 2, 28)

        def expected(contract):
            self.env.cr.execute(
                "SELECT COALESCE(SUM(units), 0) FROM retainer_ledger_entry "
                "WHERE contract_id = %s AND date < %s",
                [contract.id, date_from],
            )
            return self.env.cr.fetchone()[0]

        for contract in (self.small, self.large):
            with self.subTest(contract=contract.name):
                opening = contract._statement_data(date_from, date_to)["opening"]
                self.assertEqual(opening, expected(contract))
                # Late work dated before the period, then a correction of it.
                late = self._post_work(contract, 7, day=date(2026, 1, 20))
                self._post_work(contract, 2, day=date(2026, 2, 10))
                late._reverse(reason="Corrected")
                self._post_work(contract, 3, day=date(2025, 12, 1))
                self.env.invalidate_all()
                opening = contract._statement_data(date_from, date_to)["opening"]
                self.assertEqual(opening, expected(contract))
                totals = contract._statement_totals_by_contract(date_from, date_to)
                self.assertEqual(totals[contract.id]["opening_units"], opening)
        replay = self.Ledger._retainer_replay(self.large.ids)[self.large.id]
        self.assertTrue(replay.since, "the large ledger has a checkpoint")
        self.assertFalse(
            self.Ledger._retainer_replay(self.small.ids)[self.small.id].since,
            "the small one has none",
        )

    def test_balances_read_from_the_checkpoint_are_the_ledger_sums(self):
        """The retainer's purchased, used and balance units, read from its
        newest checkpoint and its credits, expiries and adjustments, are the
        sums of its whole ledger, whatever was posted since the checkpoint:
        late work, corrections, adjustments both ways, a reversed expiry, a
        block taken away."""

        def assert_sums(contract):
            self.env.invalidate_all()
            totals = self.Ledger._retainer_totals(contract.ids)[contract.id]
            self.assertEqual(contract.balance_units, totals["balance"])
            self.assertEqual(contract.purchased_units, totals["purchased"])
            self.assertEqual(contract.used_units, totals["used"])
            self.assertEqual(contract.ledger_entry_count, totals["count"])

        for contract in (self.small, self.large):
            with self.subTest(contract=contract.name):
                assert_sums(contract)
                self._post_work(contract, 4, day=TODAY - timedelta(days=100))
                self._post_work(contract, 2)._reverse(reason="Corrected")
                contract._post_manual_entry("adjustment", -3, "Onboarding")
                contract._post_manual_entry("adjustment", 5, "Goodwill")
                assert_sums(contract)
                expiry = self.Ledger.search(
                    [("contract_id", "=", contract.id), ("kind", "=", "expiry")],
                    limit=1,
                )
                expiry._reverse(reason="Expired by mistake")
                assert_sums(contract)
                block = self.Ledger.search(
                    [("contract_id", "=", contract.id), ("is_block", "=", True)],
                    order="id",
                    limit=1,
                )
                block._reverse(reason="Credit note")
                assert_sums(contract)
