from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestExpiryQueries(RetainerCommon):
    """The expiry job costs a constant number of queries per batch of
    retainers, whatever the number of retainers in it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Contract = cls.env["retainer.contract"]
        cls.Ledger = cls.env["retainer.ledger.entry"]
        # Blocks of other retainers (demo data) are expired first.
        cls.Contract._retainer_expire_blocks()

    def _retainers(self, count):
        """``count`` retainers with 3 blocks each: one expired half used,
        one expired and used up, one without expiry; every other retainer
        rolls 2 units over."""
        contracts = self.Contract
        for number in range(count):
            contract = self._create_contract(
                self.customer,
                self.level_onsite,
                rollover_max_units=2 * (number % 2),
                rollover_validity_months=3,
            )
            project = self._create_project(contract)
            for units, credit_date, expiry in (
                (8, date(2025, 12, 1), date(2026, 1, 31)),
                (8, date(2026, 1, 1), date(2026, 2, 28)),
                (8, date(2026, 1, 1), None),
            ):
                contract._post_manual_entry(
                    "credit", units, "Block", date=credit_date, expiry_date=expiry
                )
            self._log(1, project=project, date=date(2026, 1, 20))  # 4 of block 1
            self._log(2, project=project, date=date(2026, 2, 10))  # all of block 2
            contracts |= contract
        return contracts

    def _expire(self, contracts):
        """Run the job; return its query count after checking its figures."""
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        self.Contract._retainer_expire_blocks()
        self.env.flush_all()
        queries = self.cr.sql_log_count - before
        expiries = self.Ledger.search(
            [("contract_id", "in", contracts.ids), ("kind", "=", "expiry")]
        )
        self.assertEqual(len(expiries), len(contracts))
        self.assertEqual(set(expiries.mapped("units")), {-4})
        rolled = self.Ledger.search(
            [
                ("contract_id", "in", contracts.ids),
                ("kind", "=", "credit"),
                ("block_entry_id", "!=", False),
            ]
        )
        self.assertEqual(rolled.contract_id, contracts.filtered("rollover_max_units"))
        self.assertEqual(set(rolled.mapped("units")), {2})
        for contract in contracts:
            # 24 credited, 12 used, 4 expired, 2 rolled over (or not)
            expected = 10 if contract.rollover_max_units else 8
            self.assertEqual(contract.balance_units, expected)
        return queries

    def test_query_count_does_not_grow_with_the_retainers(self):
        self._expire(self._retainers(2))  # warm the caches
        small = self._expire(self._retainers(4))
        large = self._expire(self._retainers(20))
        self.assertEqual(
            small,
            large,
            f"the expiry job costs {small} queries for 4 retainers and {large} for 20",
        )
