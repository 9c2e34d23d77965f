import logging
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common_sale import RetainerSaleCommon

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install", "defining_retainer")
class TestRecurring(RetainerSaleCommon):
    """Recurring top-ups made by the daily job, exactly once per period."""

    def _plan(self, contract=None, **vals):
        contract = contract or self._create_contract()
        contract.write(
            {
                "recurring_quantity": 2,
                "recurring_interval": "quarter",
                "recurring_start_date": date(2025, 1, 1),
                "recurring_document": "quotation",
            }
            | vals
        )
        return contract

    def _recurring_orders(self, contract):
        return self.env["sale.order"].search(
            [("retainer_id", "=", contract.id)], order="retainer_recurring_period_start"
        )

    def test_plan_needs_quantity_and_period(self):
        contract = self._create_contract()
        incomplete = "needs a number of days, a period and a start date"
        for vals, message in (
            ({"recurring_quantity": 2}, incomplete),
            ({"recurring_quantity": 2, "recurring_interval": "month"}, incomplete),
            (
                {
                    "recurring_interval": "month",
                    "recurring_start_date": date(2025, 1, 1),
                },
                incomplete,
            ),
            (
                {
                    "recurring_quantity": -1,
                    "recurring_interval": "month",
                    "recurring_start_date": date(2025, 1, 1),
                },
                "cannot order negative days",
            ),
        ):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(ValidationError, message),
            ):
                contract.write(vals)
        self.assertFalse(self._recurring_orders(contract))
        self.assertEqual(self._ledger_count(), 0)

    def test_one_order_per_period(self):
        contract = self._plan()
        self.assertEqual(contract.recurring_next_date, date(2025, 1, 1))
        Contract = self.env["retainer.contract"]
        with freeze_time("2024-12-31"):
            Contract._cron_recurring_topups()
        self.assertFalse(self._recurring_orders(contract))
        with freeze_time("2025-01-01"):
            Contract._cron_recurring_topups()
            Contract._cron_recurring_topups()
        order = self._recurring_orders(contract)
        self.assertRecordValues(
            order,
            [
                {
                    "state": "draft",
                    "partner_id": self.customer.id,
                    "retainer_recurring_period_start": date(2025, 1, 1),
                }
            ],
        )
        self.assertEqual(order.order_line.product_id, self.product_day)
        self.assertEqual(order.order_line.product_uom_qty, 2)
        self.assertIn("2025-03-31", order.origin)
        self.assertEqual(contract.recurring_next_date, date(2025, 4, 1))
        # A quotation credits nothing until it is confirmed.
        self.assertEqual(self._balance(contract), 0)
        with freeze_time("2025-02-15"):
            Contract._cron_recurring_topups()
        self.assertEqual(len(self._recurring_orders(contract)), 1)
        with freeze_time("2025-04-01"):
            Contract._cron_recurring_topups()
            Contract._cron_recurring_topups()
        orders = self._recurring_orders(contract)
        self.assertEqual(
            orders.mapped("retainer_recurring_period_start"),
            [date(2025, 1, 1), date(2025, 4, 1)],
        )

    def test_period_already_ordered_is_skipped(self):
        contract = self._plan(recurring_interval="month")
        with freeze_time("2025-01-10"):
            self.env["retainer.contract"]._cron_recurring_topups()
            # Someone moves the plan back: the existing period is not redone.
            contract.recurring_next_date = date(2025, 1, 1)
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertEqual(len(self._recurring_orders(contract)), 1)
        self.assertEqual(contract.recurring_next_date, date(2025, 2, 1))

    def test_catch_up_of_missed_periods(self):
        contract = self._plan(recurring_interval="month")
        with freeze_time("2025-03-20"):
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertEqual(
            self._recurring_orders(contract).mapped("retainer_recurring_period_start"),
            [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)],
        )
        self.assertEqual(contract.recurring_next_date, date(2025, 4, 1))

    def test_auto_confirmed_invoice(self):
        self._set_trigger("posted")
        contract = self._plan(recurring_document="invoice", recurring_auto_confirm=True)
        with freeze_time("2025-01-01"):
            self.env["retainer.contract"]._cron_recurring_topups()
            self.env["retainer.contract"]._cron_recurring_topups()
        order = self._recurring_orders(contract)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.invoice_ids.state, "posted")
        self.assertEqual(self._balance(contract), 56)
        self.assertEqual(self._credits(contract).invoice_id, order.invoice_ids)

    def test_invoice_document_left_in_draft(self):
        self._set_trigger("posted")
        contract = self._plan(recurring_document="invoice")
        with freeze_time("2025-01-01"):
            self.env["retainer.contract"]._cron_recurring_topups()
        order = self._recurring_orders(contract)
        self.assertEqual(order.invoice_ids.state, "draft")
        self.assertEqual(self._balance(contract), 0)

    def test_auto_confirmed_quotation(self):
        contract = self._plan(recurring_auto_confirm=True)
        with freeze_time("2025-01-01"):
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertEqual(self._recurring_orders(contract).state, "sale")
        self.assertEqual(self._balance(contract), 56)

    def test_only_active_retainers(self):
        suspended = self._plan()
        suspended.action_suspend()
        closed = self._plan(self._create_contract(level=self.level_onsite))
        closed.action_close()
        with freeze_time("2025-01-01"):
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertFalse(self._recurring_orders(suspended))
        self.assertFalse(self._recurring_orders(closed))

    def test_failing_contract_does_not_stop_the_others(self):
        """A customer moved to another company makes its plan fail: the
        healthy plans still get their orders, the failure is logged and
        reported to the account manager of the failing retainer, and the
        failing plan stays due for the next run."""
        healthy = self._plan()
        moved_customer = self.env["res.partner"].create(
            {"name": "Moved Away Ltd", "is_company": True}
        )
        broken = self._plan(
            self._create_contract(partner=moved_customer, user_id=self.salesman.id)
        )
        later_customer = self.env["res.partner"].create(
            {"name": "Later plc", "is_company": True}
        )
        later = self._plan(self._create_contract(partner=later_customer))
        other_company = self.setup_other_company()["company"]
        moved_customer.company_id = other_company
        with (
            freeze_time("2025-01-01"),
            self.assertLogs(
                "odoo.addons.defining_retainer.models.retainer_contract_sale",
                level="ERROR",
            ) as logs,
        ):
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertEqual(len(self._recurring_orders(healthy)), 1)
        self.assertEqual(len(self._recurring_orders(later)), 1)
        self.assertFalse(self._recurring_orders(broken))
        self.assertEqual(healthy.recurring_next_date, date(2025, 4, 1))
        self.assertEqual(broken.recurring_next_date, date(2025, 1, 1), "still due")
        self.assertIn(broken.name, "\n".join(logs.output))
        activity = broken.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.salesman)
        self.assertEqual(activity.summary, "Recurring top-up failed")
        self.assertIn("company", activity.note)
        self.assertFalse(healthy.activity_ids)
        # A second failing run does not pile up activities.
        with freeze_time("2025-01-02"), self.assertLogs(level="ERROR"):
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertEqual(len(broken.activity_ids), 1)
        self.assertEqual(len(self._recurring_orders(healthy)), 1)

    def test_retainer_story(self):
        """From selling 2 retainer days to the recurring order, as the users
        who do it: the salesperson sells, the accountant invoices and
        registers the payment, the units arrive when paid, a credit note
        takes them back and the plan orders next quarter once."""
        self._set_trigger("paid")
        contract = self._create_contract(units=10)
        with freeze_time("2025-02-10"):
            order = self._order([(self.product_day, 2)], user=self.salesman)
            self.assertEqual(order.retainer_id, contract)
            self.assertEqual(self._balance(contract), 10)
            invoice = self._invoice(order, user=self.accountant)
            self.assertEqual(self._balance(contract), 10)
            self._pay(invoice, user=self.accountant)
            self.assertEqual(self._balance(contract), 66)
            self._refund(invoice, user=self.accountant)
            self.assertEqual(self._balance(contract), 10)
            self._plan(contract, recurring_start_date=date(2025, 4, 1))
            self.env["retainer.contract"]._cron_recurring_topups()
        self.assertEqual(len(contract.order_ids), 1)
        with freeze_time("2025-04-01"):
            self.env["retainer.contract"]._cron_recurring_topups()
            self.env["retainer.contract"]._cron_recurring_topups()
        recurring = contract.order_ids.filtered("retainer_recurring_period_start")
        self.assertEqual(len(recurring), 1)
        self.assertEqual(recurring.retainer_recurring_period_start, date(2025, 4, 1))
        self.assertEqual(contract.recurring_next_date, date(2025, 7, 1))


@tagged("post_install", "-at_install", "defining_retainer")
class TestRecurringPerformance(RetainerSaleCommon):
    """The recurring job costs a bounded number of queries per contract."""

    def _run_queries(self, count, **plan):
        customers = self.env["res.partner"].create(
            [
                {"name": f"Recurring customer {i}", "is_company": True}
                for i in range(count)
            ]
        )
        contracts = self.env["retainer.contract"].create(
            [
                {
                    "partner_id": customer.id,
                    "level_id": self.level.id,
                    "company_id": self.company.id,
                    "recurring_quantity": 1,
                    "recurring_interval": "month",
                    "recurring_start_date": date(2025, 1, 1),
                }
                | plan
                for customer in customers
            ]
        )
        self.env.flush_all()
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        contracts._retainer_generate_recurring(date(2025, 1, 1))
        self.env.flush_all()
        queries = self.cr.sql_log_count - start
        self.assertEqual(len(contracts.order_ids), count)
        return queries

    def test_recurring_query_count(self):
        for plan in ({}, {"recurring_auto_confirm": True}):
            with self.subTest(plan=plan):
                self._run_queries(2, **plan)  # warm the caches
                few = self._run_queries(5, **plan)
                some = self._run_queries(20, **plan)
                many = self._run_queries(50, **plan)
                first = (some - few) / 15
                second = (many - some) / 30
                _logger.info(
                    "Recurring job %s: %s / %s / %s queries for 5 / 20 / 50 "
                    "contracts (%.1f then %.1f per extra contract)",
                    plan,
                    few,
                    some,
                    many,
                    first,
                    second,
                )
                # Each extra contract costs the same bounded number of
                # queries, whatever the size of the batch.
                self.assertAlmostEqual(first, second, delta=0.5)
                self.assertLessEqual(second, 12)
