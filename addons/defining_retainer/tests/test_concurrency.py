import threading
from datetime import timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields, sql_db
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..models.retainer_contract import RetainerContract
from .race import ConcurrentClientsMixin


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentUsage(ConcurrentClientsMixin, TransactionCase):
    """Two clients log time on one retainer at the same moment, each in its
    own database transaction (REPEATABLE READ, as Odoo runs requests).

    Both take their snapshot and read the balance before either writes
    (a barrier holds them), then both log an hour. The proof that the
    contract-row lock is what protects the balance is the control test:
    without it, the same race overspends.
    """

    def setUp(self):
        super().setUp()
        # Real, separate connections: the fixtures must be committed.
        self._commit_retainer("Race", 4, "One hour")

    def _race(self, policy):
        """Run two concurrent one-hour timesheets; return each outcome."""
        with self._committed_env() as env:
            env["retainer.contract"].browse(
                self.ids["contract"]
            ).overdraft_policy = policy

        outcomes, serialization_failures, errors = self._run_clients(
            {name: self._log_job(f"Incident for {name}") for name in ("a", "b")},
            self._read_balance,
            refused=(UserError,),
            timeout=30,
        )
        self.assertEqual(len(outcomes), 2, f"both clients finished: {errors}")
        with self._committed_env() as env:
            contract = env["retainer.contract"].browse(self.ids["contract"])
            balance = contract.balance_units
            debits = contract.ledger_entry_ids.filtered(lambda e: e.kind == "debit")
        return outcomes, balance, len(debits), serialization_failures

    def test_block_never_overspends(self):
        outcomes, balance, debits, failures = self._race("block")
        results = sorted(result for result, _value in outcomes.values())
        self.assertEqual(results, ["ok", "refused"])
        self.assertEqual(balance, 0)
        self.assertEqual(debits, 1)
        # The later client waited for the lock and read the balance as
        # committed: a clear refusal, no serialization failure, no retry.
        self.assertFalse(failures)
        refusal = next(v for r, v in outcomes.values() if r == "refused")
        self.assertIn("needs 4 units", refusal)

    def test_no_entry_lost_when_overdraft_allowed(self):
        """On a warned retainer the later client waits for the earlier one's
        lock instead of failing (no serialization failure, no retry), and
        the overdraft the two make together is notified exactly once, by
        the check that runs after the commits."""
        outcomes, balance, debits, failures = self._race("warn")
        self.assertEqual([r for r, _v in outcomes.values()], ["ok", "ok"])
        self.assertEqual(balance, -4)
        self.assertEqual(debits, 2)
        self.assertFalse(failures, "nobody failed: the later client waited")
        with self._committed_env() as env:
            contract = env["retainer.contract"].browse(self.ids["contract"])
            self.assertTrue(contract.overdraft_notified)
            notes = contract.message_ids.filtered(
                lambda m: "is overdrawn" in (m.body or "")
            )
            self.assertEqual(len(notes), 1, "one overdraft, one notification")

    def test_own_rows_read_only_after_an_earlier_posting(self):
        """The balance of a posting is the committed one plus this
        transaction's own rows: the first posting on a retainer in a
        transaction knows its own rows (no second query), a later one reads
        them (a savepoint may have undone some), and both refuse what a
        ``block`` retainer cannot pay."""
        own_rows_query = "e.id > t.newest GROUP BY e.contract_id"
        executed = []
        execute = sql_db.Cursor.execute

        def spy(cursor, query, params=None, log_exceptions=True):
            executed.append(str(query.code if isinstance(query, SQL) else query))
            return execute(cursor, query, params, log_exceptions)

        def log_time(env, name, hours):
            return env["account.analytic.line"].create(
                {
                    "project_id": self.ids["project"],
                    "employee_id": self.ids["employee"],
                    "name": name,
                    "unit_amount": hours,
                }
            )

        def own_rows_reads():
            return sum(own_rows_query in query for query in executed)

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["retainer.contract"].browse(
                self.ids["contract"]
            ).overdraft_policy = "block"
        with self.registry.cursor() as cr, patch.object(sql_db.Cursor, "execute", spy):
            env = api.Environment(cr, SUPERUSER_ID, {})
            log_time(env, "First half hour", 0.5)  # 2 of the 4 units
            self.assertEqual(own_rows_reads(), 0, "first posting: no second read")
            # 2 units left, this transaction's own debit included: refused.
            with (
                self.assertRaisesRegex(UserError, "has 2 units .* needs 4 units"),
                cr.savepoint(),
            ):
                log_time(env, "An hour too many", 1.0)
            self.assertEqual(own_rows_reads(), 1, "later posting: own rows read")
        with self.registry.cursor() as cr, patch.object(sql_db.Cursor, "execute", spy):
            env = api.Environment(cr, SUPERUSER_ID, {})
            # Committed: 2 units left; a new transaction's first posting.
            with (
                self.assertRaisesRegex(UserError, "has 2 units .* needs 4 units"),
                cr.savepoint(),
            ):
                log_time(env, "Another hour too many", 1.0)
            self.assertEqual(own_rows_reads(), 1, "first posting: no second read")
            contract = env["retainer.contract"].browse(self.ids["contract"])
            self.assertEqual(contract.balance_units, 2)
            debits = contract.ledger_entry_ids.filtered(lambda e: e.kind == "debit")
            self.assertEqual(debits.mapped("name"), ["First half hour"])

    def test_control_without_row_write_overspends(self):
        """Without the contract lock, two postings that both check the
        balance before either commits (held by a barrier after the check)
        overspend: the test above fails when the protection is missing."""
        checked = threading.Barrier(2, timeout=30)
        check = RetainerContract._retainer_apply_overdraft_policy

        def check_then_wait(contracts, *args, **kwargs):
            check(contracts, *args, **kwargs)
            checked.wait()

        with (
            # Both locks: the one a timesheet save takes first (with its
            # reads) and the one of any other posting.
            patch.object(
                RetainerContract, "_lock_for_posting", lambda self, bump=False: set()
            ),
            patch.object(RetainerContract, "_lock_for_usage", lambda self: {}),
            patch.object(
                RetainerContract, "_retainer_apply_overdraft_policy", check_then_wait
            ),
        ):
            outcomes, balance, debits, failures = self._race("block")
        self.assertEqual([r for r, _v in outcomes.values()], ["ok", "ok"])
        self.assertEqual(balance, -4)
        self.assertEqual(debits, 2)
        self.assertFalse(failures)


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentExpiry(ConcurrentClientsMixin, TransactionCase):
    """The expiry job racing itself and racing late timesheets, each in its
    own transaction that takes its snapshot before the others write."""

    def setUp(self):
        super().setUp()
        self.today = fields.Date.context_today(self.env["retainer.contract"])
        self.expiry = self.today - timedelta(days=10)
        self._commit_retainer(
            "Expiry Race",
            20,
            "Block of 5 hours",
            contract_vals={"overdraft_policy": "warn", "rollover_max_units": 0},
            credit_vals={
                "date": self.expiry - timedelta(days=60),
                "expiry_date": self.expiry,
            },
            employee_names=("Expiry consultant",),
        )

    def _snapshot(self, env):
        env["retainer.contract"].browse(self.ids["contract"]).read(["balance_units"])

    def _figures(self):
        with self._committed_env() as env:
            block = env["retainer.ledger.entry"].browse(self.ids["block"])
            contract = block.contract_id
            expiries = env["retainer.ledger.entry"].search(
                [("block_entry_id", "=", block.id), ("kind", "=", "expiry")]
            )
            live = expiries.filtered(lambda e: not e.reversal_entry_ids)
            return {
                "consumed": block.consumed_units,
                "expired": block.expired_units,
                "remaining": block.remaining_units,
                "live_expiries": len(live),
                "balance": contract.balance_units,
            }

    def test_two_expiry_runs_at_once_expire_once(self):
        errors = self._concurrently(self._expire, self._expire)
        self.assertFalse(errors)
        self.assertEqual(
            self._figures(),
            {
                "consumed": 0,
                "expired": 20,
                "remaining": 0,
                "live_expiries": 1,
                "balance": 0,
            },
        )

    def test_control_expiry_runs_without_lock_expire_twice(self):
        """Without the contract lock, two runs that both read the ledger
        before either posts (a barrier) expire the block twice: the test
        above fails when the protection is missing."""
        replayed = threading.Barrier(2, timeout=30)
        reconcile = RetainerContract._retainer_reconcile_expiries

        def wait_then_reconcile(contracts, *args, **kwargs):
            replayed.wait()
            return reconcile(contracts, *args, **kwargs)

        with (
            patch.object(
                RetainerContract, "_lock_for_posting", lambda self, bump=False: None
            ),
            patch.object(
                RetainerContract, "_retainer_reconcile_expiries", wait_then_reconcile
            ),
        ):
            errors = self._concurrently(self._expire, self._expire)
        self.assertFalse(errors)
        figures = self._figures()
        self.assertEqual(figures["live_expiries"], 2)
        self.assertEqual(figures["balance"], -20)

    def test_late_time_racing_the_expiry_job_uses_the_block_once(self):
        errors = self._concurrently(
            self._expire, self._log_on(self.expiry - timedelta(days=1))
        )
        self.assertFalse(errors)
        # Whichever committed first, the block paid 4 units of work and the
        # other 16 expired: nothing expired twice, nothing paid by an
        # expired part.
        self.assertEqual(
            self._figures(),
            {
                "consumed": 4,
                "expired": 16,
                "remaining": 0,
                "live_expiries": 1,
                "balance": 0,
            },
        )

    def test_time_after_expiry_racing_the_job_is_an_overdraft(self):
        errors = self._concurrently(
            self._expire, self._log_on(self.expiry + timedelta(days=1))
        )
        self.assertFalse(errors)
        self.assertEqual(
            self._figures(),
            {
                "consumed": 0,
                "expired": 20,
                "remaining": 0,
                "live_expiries": 1,
                "balance": -4,
            },
        )


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentFirstSale(ConcurrentClientsMixin, TransactionCase):
    """Two first sales of a retainer product for the same customer are
    confirmed at the same moment, each in its own transaction: the customer
    ends with one retainer holding both sales, not two retainers."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            partner = env["res.partner"].create(
                {"name": "First Sale Race Ltd", "is_company": True}
            )
            level = env["retainer.level"].create({"name": "First sale race level"})
            product = env["product.product"].create(
                {
                    "name": "First sale race day",
                    "type": "service",
                    "service_tracking": "no",
                    "service_type": "manual",
                    "invoice_policy": "order",
                    "list_price": 700.0,
                    "retainer_units": 28,
                    "retainer_level_id": level.id,
                }
            )
            self.ids = {
                "partner": partner.id,
                "level": level.id,
                "product": product.id,
                "company": env.company.id,
            }
        self.addCleanup(self._drop_fixtures)

    def _drop_fixtures(self):
        ids = self.ids
        with self.registry.cursor() as cr:
            # Confirmed orders and the ledger refuse deletion through the ORM.
            for query in (
                (
                    "DELETE FROM retainer_ledger_entry WHERE contract_id IN "
                    "(SELECT id FROM retainer_contract WHERE partner_id = %s)"
                ),
                "DELETE FROM sale_order WHERE partner_id = %s",
                "DELETE FROM retainer_contract WHERE partner_id = %s",
            ):
                cr.execute(SQL(query, ids["partner"]))
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["product.product"].browse(ids["product"]).product_tmpl_id.unlink()
            env["retainer.level"].browse(ids["level"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()

    def _race(self):
        def read_retainers(env):
            # Reading the customer's retainers takes the snapshot.
            env["retainer.contract"].search_count(
                [("partner_id", "=", self.ids["partner"])]
            )

        def sell(env):
            order = env["sale.order"].create(
                {
                    "partner_id": self.ids["partner"],
                    "company_id": self.ids["company"],
                    "order_line": [
                        Command.create(
                            {"product_id": self.ids["product"], "product_uom_qty": 1}
                        )
                    ],
                }
            )
            order.action_confirm()
            return order.retainer_id.id

        outcomes, serialization_failures, errors = self._run_clients(
            {"a": sell, "b": sell}, read_retainers
        )
        self.assertFalse(errors)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            contracts = env["retainer.contract"].search(
                [("partner_id", "=", self.ids["partner"])]
            )
            return (
                {name: value for name, (_result, value) in outcomes.items()},
                contracts.ids,
                contracts.mapped("balance_units"),
                serialization_failures,
            )

    def test_two_first_sales_make_one_retainer(self):
        outcomes, contract_ids, balances, failures = self._race()
        self.assertEqual(len(contract_ids), 1, "one retainer for the customer")
        self.assertEqual(sorted(outcomes.values()), contract_ids * 2)
        self.assertEqual(balances, [56], "both sales credit it")
        self.assertEqual(len(failures), 1, "the later sale was retried")
