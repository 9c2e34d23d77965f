from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestBlocks(RetainerCommon):
    """Dated credits (blocks) used in order, expiry and rollover."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dated = cls._create_contract(cls.customer, cls.level_onsite)
        cls.dated_project = cls._create_project(cls.dated)
        cls.Ledger = cls.env["retainer.ledger.entry"]

    def _credit(self, units, credit_date, expiry=None, contract=None):
        return (contract or self.dated)._post_manual_entry(
            "credit", units, "Block", date=credit_date, expiry_date=expiry
        )

    def _work(self, hours, work_date, contract_project=None):
        return self._log(
            hours, project=contract_project or self.dated_project, date=work_date
        )

    def _debit(self, timesheet):
        return self.Ledger.search(
            [
                ("timesheet_id", "=", timesheet.id),
                ("kind", "=", "debit"),
                ("reversal_entry_ids", "=", False),
            ]
        )

    def _figures(self, block):
        block.invalidate_recordset()
        return (block.consumed_units, block.expired_units, block.remaining_units)

    # --- blocks and the consumption order --- #

    def test_expiry_before_credit_date_is_refused(self):
        count = self._ledger_count()
        with self.assertRaisesRegex(UserError, "cannot expire .* before its date"):
            self._credit(8, date(2026, 3, 1), expiry=date(2026, 2, 28))
        self.assertEqual(self._ledger_count(), count)

    def test_only_credits_expire(self):
        with self.assertRaisesRegex(UserError, "Only a credit can have an expiry"):
            self.dated._post_manual_entry(
                "adjustment", -4, "Fix", expiry_date=date(2026, 4, 1)
            )

    def test_earliest_expiry_first_then_undated_then_oldest(self):
        undated = self._credit(8, date(2026, 1, 1))
        late = self._credit(8, date(2026, 1, 2), expiry=date(2026, 12, 31))
        soon = self._credit(8, date(2026, 2, 1), expiry=date(2026, 6, 30))
        sheet = self._work(5, date(2026, 3, 10))  # 20 units
        debit = self._debit(sheet)
        self.assertEqual(debit.paid_by_block_ids, soon | late | undated)
        self.assertEqual(self._figures(soon), (8, 0, 0))
        self.assertEqual(self._figures(late), (8, 0, 0))
        self.assertEqual(self._figures(undated), (4, 0, 4))

    def test_ties_by_date_then_id(self):
        first = self._credit(4, date(2026, 1, 1))
        second = self._credit(4, date(2026, 1, 1))
        older = self._credit(4, date(2025, 12, 1))
        self._work(2, date(2026, 3, 10))  # 8 units
        self.assertEqual(self._figures(older), (4, 0, 0))
        self.assertEqual(self._figures(first), (4, 0, 0))
        self.assertEqual(self._figures(second), (0, 0, 4))

    def test_block_never_pays_for_work_dated_after_its_expiry(self):
        block = self._credit(20, date(2026, 1, 1), expiry=date(2026, 3, 1))
        # The expiry job has not run: the balance still counts the block.
        sheet = self._work(1, date(2026, 3, 2))
        self.assertEqual(self.dated.balance_units, 16)
        self.assertFalse(self._debit(sheet).paid_by_block_ids)
        self.assertEqual(self._figures(block), (0, 0, 20))
        on_expiry_day = self._work(1, date(2026, 3, 1))
        self.assertEqual(self._debit(on_expiry_day).paid_by_block_ids, block)

    def test_next_credit_covers_the_overdraft_first(self):
        sheet = self._work(2, date(2026, 3, 1))  # 8 units, no block yet
        self.assertEqual(self.dated.balance_units, -8)
        block = self._credit(28, date(2026, 3, 5), expiry=date(2026, 12, 31))
        self.assertEqual(self._debit(sheet).paid_by_block_ids, block)
        self.assertEqual(self._figures(block), (8, 0, 20))

    def test_block_credited_after_work_says_what_it_could_not_pay(self):
        """The issue's case: work paid by a block without expiry; a block
        that expires first, credited afterwards (back-dated), never pays for
        it: the screens mark it instead of promising otherwise."""
        undated = self._credit(28, date(2026, 1, 1))
        sheet = self._work(1, date(2026, 2, 10))  # 4 units
        back_dated = self._credit(56, date(2026, 2, 1), expiry=date(2026, 12, 26))
        self.assertEqual(self._debit(sheet).paid_by_block_ids, undated)
        self.assertEqual(self._figures(back_dated), (0, 0, 56))
        self.assertEqual(
            back_dated.stranded_note,
            "Credited after work it could have paid: 4 units (1 h) of earlier "
            "work stay paid by blocks that expire later.",
        )
        self.assertFalse(undated.stranded_note)
        # Later work uses it first, as promised.
        later = self._work(0.5, date(2026, 3, 2))
        self.assertEqual(self._debit(later).paid_by_block_ids, back_dated)
        back_dated.invalidate_recordset()
        self.assertIn("4 units (1 h) of earlier work", back_dated.stranded_note)
        # A block that cannot pay overdrawn work dated after its expiry.
        overdrawn = self._create_contract(self.customer, self.level_onsite)
        project = self._create_project(overdrawn)
        self._work(1.5, date(2026, 3, 10), contract_project=project)
        expired = self._credit(
            20, date(2026, 1, 1), expiry=date(2026, 2, 28), contract=overdrawn
        )
        self.assertEqual(
            expired.stranded_note,
            "Credited after work it could not pay for: 6 units (1 h 30 min) of "
            "unpaid earlier work are dated after its expiry.",
        )
        # The statement shows the mark on the block and explains the rule.
        html = (
            self.env["retainer.statement"]
            ._retainer_render_pdfs(self.dated, date(2026, 1, 1), date(2026, 3, 15))[
                self.dated.id
            ]
            .decode()
        )
        self.assertIn("o_retainer_block_stranded", html)
        self.assertIn("4 units (1 h) of earlier work stay paid by blocks", html)
        self.assertIn("even when it expires first (the block then says so)", html)
        # The staff screens show it: the blocks list and the block's form.
        form = self.env["retainer.contract"].get_view(view_type="form")["arch"]
        self.assertIn('name="stranded_note"', form)
        self.assertIn("Not paid by this block", form)

    def test_reversed_debit_gives_units_back_to_its_blocks(self):
        soon = self._credit(8, date(2026, 1, 1), expiry=date(2026, 6, 30))
        late = self._credit(8, date(2026, 1, 1), expiry=date(2026, 9, 30))
        first = self._work(3, date(2026, 3, 1))  # 12: soon 8 + late 4
        second = self._work(1, date(2026, 3, 2))  # 4: late 4
        first.unlink()
        self.assertEqual(self._figures(soon), (0, 0, 8))
        self.assertEqual(self._figures(late), (4, 0, 4))
        self.assertEqual(self._debit(second).paid_by_block_ids, late)

    def test_reversed_credit_moves_its_usage_as_if_it_never_existed(self):
        soon = self._credit(8, date(2026, 1, 1), expiry=date(2026, 6, 30))
        undated = self._credit(8, date(2026, 1, 1))
        sheet = self._work(3, date(2026, 3, 1))  # 12: soon 8 + undated 4
        soon._reverse(reason="Sold by mistake")
        self.assertEqual(self._debit(sheet).paid_by_block_ids, undated)
        self.assertEqual(self._figures(undated), (8, 0, 0))
        self.assertEqual(self.dated.balance_units, -4)

    def test_positive_adjustment_is_an_undated_block(self):
        adjustment = self.dated._post_manual_entry(
            "adjustment", 8, "Goodwill", date=date(2026, 1, 1)
        )
        sheet = self._work(1, date(2026, 3, 1))  # 4 units
        self.assertTrue(adjustment.is_block)
        self.assertEqual(self._debit(sheet).paid_by_block_ids, adjustment)
        self.assertEqual(self._figures(adjustment), (4, 0, 4))
        self.assertIn(adjustment, self.dated.block_ids)
        negative = self.dated._post_manual_entry("adjustment", -2, "Correction")
        self.assertFalse(negative.is_block)
        self.assertEqual(self._figures(adjustment), (6, 0, 2))

    def test_effective_kind_is_stored(self):
        block = self._credit(8, date(2026, 1, 1))
        reversal = block._reverse(reason="Wrong customer")
        self.assertEqual(reversal.kind, "reversal")
        self.assertEqual(reversal.effective_kind, "credit")
        totals = self.Ledger._retainer_totals(self.dated.ids)[self.dated.id]
        self.assertEqual((totals["purchased"], totals["balance"]), (0, 0))

    def test_expiring_units_and_next_expiry(self):
        self._credit(8, date(2026, 1, 1), expiry=date(2026, 3, 31))
        self._credit(12, date(2026, 1, 1), expiry=date(2026, 4, 10))
        self._credit(4, date(2026, 1, 1), expiry=date(2026, 8, 1))
        self._credit(30, date(2026, 1, 1))
        self._work(1, date(2026, 3, 10))  # 4 units of the first block
        self.assertEqual(self.dated.expiring_units, 4 + 12)
        self.assertEqual(self.dated.next_expiry_date, date(2026, 3, 31))
        Contract = self.env["retainer.contract"]
        self.assertIn(self.dated, Contract.search([("expiring_units", ">", 0)]))
        self.assertNotIn(self.contract, Contract.search([("expiring_units", ">", 0)]))

    def test_urgency_columns_are_stored_and_sort(self):
        """The list sorts by run-out date and expiring units: stored copies
        refreshed when blocks change and by the daily job, never by time
        logged (a timesheet's save costs no query for them)."""
        self._credit(8, date(2026, 1, 1), expiry=date(2026, 3, 31))
        self.assertEqual(self.dated.urgency_expiring_units, 8)
        self.assertFalse(self.dated.urgency_forecast_date)  # no usage yet
        self._credit(40, date(2026, 1, 1))
        self.assertEqual(self.dated.urgency_expiring_units, 8)
        self._work(1, date(2026, 3, 10))  # 4 units of the expiring block
        self.assertEqual(self.dated.expiring_units, 4)
        self.assertEqual(self.dated.urgency_expiring_units, 8)
        self.env["retainer.contract"]._cron_expire_blocks()
        # 4 units used in 90 days: the 44 left last 990 days, past the
        # horizon, so no date; the expiring block is refreshed.
        self.assertEqual(self.dated.urgency_expiring_units, 4)
        self.assertEqual(
            self.dated.urgency_forecast_date, self.dated.forecast_date or False
        )
        other = self._create_contract(self.customer, self.level_onsite)
        self._credit(20, date(2026, 1, 1), expiry=date(2026, 4, 1), contract=other)
        self.assertEqual(other.urgency_expiring_units, 20)
        Contract = self.env["retainer.contract"]
        ordered = Contract.search(
            [("id", "in", (self.dated | other).ids)],
            order="urgency_expiring_units desc",
        )
        self.assertEqual(ordered.ids, [other.id, self.dated.id])
        # A reversed block is no longer expiring, at once.
        self.Ledger.search(
            [("contract_id", "=", other.id), ("kind", "=", "credit")]
        )._reverse(reason="Wrong retainer")
        self.assertEqual(other.urgency_expiring_units, 0)

    def test_urgency_run_out_date_is_stored_by_the_job(self):
        self._credit(40, date(2026, 1, 1))
        self._work(7, date(2026, 3, 10))  # 28 units in the 90-day window
        self.assertFalse(self.dated.urgency_forecast_date)
        self.env["retainer.contract"]._cron_expire_blocks()
        self.assertTrue(self.dated.forecast_date)
        self.assertEqual(self.dated.urgency_forecast_date, self.dated.forecast_date)
        closed = self.env["retainer.contract"].search(
            [("urgency_forecast_date", "<=", self.dated.forecast_date)]
        )
        self.assertIn(self.dated, closed)

    # --- the expiry job --- #

    def test_expiry_job_posts_one_entry_per_block_and_is_idempotent(self):
        block = self._credit(20, date(2026, 1, 1), expiry=date(2026, 3, 1))
        used = self._credit(4, date(2026, 1, 1), expiry=date(2026, 2, 1))
        self._work(1, date(2026, 1, 20))  # uses `used` entirely
        self.env["retainer.contract"]._retainer_expire_blocks()
        expiries = self.Ledger.search(
            [("contract_id", "=", self.dated.id), ("kind", "=", "expiry")]
        )
        self.assertEqual(len(expiries), 1)
        self.assertEqual(
            (expiries.units, expiries.block_entry_id, expiries.date),
            (-20, block, date(2026, 3, 1)),
        )
        self.assertEqual(self._figures(block), (0, 20, 0))
        self.assertEqual(self._figures(used), (4, 0, 0))
        self.assertEqual(self.dated.balance_units, 0)
        self.env["retainer.contract"]._retainer_expire_blocks()
        self.assertEqual(
            self.Ledger.search_count(
                [("contract_id", "=", self.dated.id), ("kind", "=", "expiry")]
            ),
            1,
        )

    def test_expiry_job_is_the_scheduled_action(self):
        block = self._credit(8, date(2026, 1, 1), expiry=date(2026, 2, 1))
        cron = self.env.ref("defining_retainer.ir_cron_retainer_expire_blocks")
        cron.method_direct_trigger()
        self.assertEqual(self._figures(block), (0, 8, 0))

    def test_expiry_in_a_locked_period_is_dated_after_the_lock(self):
        block = self._credit(8, date(2026, 1, 1), expiry=date(2026, 2, 10))
        self.dated.usage_lock_date = date(2026, 2, 28)
        self.env["retainer.contract"]._retainer_expire_blocks()
        expiry = self.Ledger.search([("block_entry_id", "=", block.id)])
        self.assertEqual(expiry.date, date(2026, 3, 1))

    def test_late_time_on_an_expired_block_corrects_its_expiry(self):
        block = self._credit(20, date(2026, 1, 1), expiry=date(2026, 3, 1))
        self.env["retainer.contract"]._retainer_expire_blocks()
        first_expiry = self.Ledger.search([("kind", "=", "expiry")])
        self.assertEqual(self.dated.balance_units, 0)
        # Work of February entered in March still uses the February block.
        sheet = self._work(2, date(2026, 2, 20))  # 8 units
        self.assertEqual(self._debit(sheet).paid_by_block_ids, block)
        self.assertTrue(first_expiry.reversal_entry_ids, "expiry reversed")
        live = self.Ledger.search(
            [
                ("block_entry_id", "=", block.id),
                ("kind", "=", "expiry"),
                ("reversal_entry_ids", "=", False),
            ]
        )
        self.assertEqual(live.units, -12)
        self.assertEqual(self._figures(block), (8, 12, 0))
        self.assertEqual(self.dated.balance_units, 0)
        # Deleting that time gives the units back to the block, which has
        # expired: they expire too.
        sheet.unlink()
        self.assertEqual(self._figures(block), (0, 20, 0))
        self.assertEqual(self.dated.balance_units, 0)

    def test_expiry_job_for_a_company_the_user_cannot_access(self):
        other = self.env["res.company"].create({"name": "Other Support Ltd"})
        self._credit(8, date(2026, 1, 1), expiry=date(2026, 2, 1))
        count = self._ledger_count()
        with self.assertRaisesRegex(
            AccessError, "cannot expire the retainer blocks of Other Support Ltd"
        ):
            self.env["retainer.contract"].with_user(
                self.manager
            )._retainer_expire_blocks(companies=other)
        self.assertEqual(self._ledger_count(), count)

    # --- rollover --- #

    def test_rollover_moves_up_to_the_maximum_into_a_new_block(self):
        self.dated.write({"rollover_max_units": 8, "rollover_validity_months": 3})
        block = self._credit(20, date(2026, 1, 1), expiry=date(2026, 2, 28))
        self._work(2, date(2026, 2, 1))  # 8 used, 12 left
        self.env["retainer.contract"]._retainer_expire_blocks()
        rolled = self.Ledger.search(
            [("block_entry_id", "=", block.id), ("kind", "=", "credit")]
        )
        self.assertEqual(rolled.units, 8)
        self.assertEqual(rolled.date, date(2026, 3, 1))
        self.assertEqual(rolled.expiry_date, date(2026, 5, 28))
        self.assertIn(block._retainer_block_label(), rolled.reason)
        self.assertTrue(rolled.reason.startswith("8 unused units"))
        self.assertEqual(self._figures(block), (8, 12, 0))
        self.assertEqual(self.dated.balance_units, 8)
        # A rolled block never rolls again.
        with freeze_time("2026-06-01"):
            self.env["retainer.contract"]._retainer_expire_blocks()
            self.assertEqual(self._figures(rolled), (0, 8, 0))
            self.assertEqual(
                self.Ledger.search_count([("block_entry_id", "=", rolled.id)]), 1
            )
            self.assertEqual(self.dated.balance_units, 0)

    def test_rollover_defaults_from_the_company_and_refuses_negatives(self):
        self.company.write(
            {"retainer_rollover_max_units": 12, "retainer_rollover_validity_months": 2}
        )
        contract = self._create_contract(self.other_customer, self.level_phone)
        self.assertEqual(
            (contract.rollover_max_units, contract.rollover_validity_months), (12, 2)
        )
        with self.assertRaisesRegex(ValidationError, "rollover .* cannot be negative"):
            contract.rollover_max_units = -1
        with self.assertRaisesRegex(ValidationError, "rollover .* cannot be negative"):
            self.company.retainer_rollover_validity_months = -3

    # --- overdraft policy on dated blocks --- #

    def test_block_policy_refuses_work_no_usable_block_pays(self):
        self.dated.overdraft_policy = "block"
        self._credit(20, date(2026, 1, 1), expiry=date(2026, 3, 1))
        count = self._ledger_count()
        with self.assertRaisesRegex(UserError, "this time needs 4 units"):
            self._work(1, date(2026, 3, 2))
        self.assertEqual(self._ledger_count(), count)
        self._work(1, date(2026, 3, 1))  # still inside the block

    def test_warned_overdraft_is_notified_once_per_overdraft(self):
        self.dated.overdraft_policy = "warn"
        Activity = self.env["mail.activity"]
        domain = [
            ("res_id", "=", self.dated.id),
            ("summary", "=", "Retainer overdrawn"),
        ]
        self._work(1, date(2026, 3, 1))
        self._work(1, date(2026, 3, 2))
        self.assertEqual(Activity.search_count(domain), 1)
        self.assertTrue(self.dated.overdraft_notified)
        self._credit(28, date(2026, 3, 3))
        self.assertFalse(self.dated.overdraft_notified)
        self._work(7, date(2026, 3, 4))
        self.assertEqual(Activity.search_count(domain), 2)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestBlockSales(RetainerCommon):
    def test_product_validity_dates_the_credit_and_refuses_negatives(self):
        product = self.env["product.product"].create(
            {
                "name": "Retainer day, valid 12 months",
                "type": "service",
                "invoice_policy": "order",
                "service_type": "manual",
                "retainer_units": 28,
                "retainer_validity_months": 12,
                "list_price": 800,
            }
        )
        with self.assertRaisesRegex(ValidationError, "validity .* cannot be negative"):
            product.retainer_validity_months = -1
        salesman = new_test_user(
            self.env, login="block_salesman", groups="sales_team.group_sale_salesman"
        )
        order = (
            self.env["sale.order"]
            .with_user(salesman)
            .create(
                {
                    "partner_id": self.customer.id,
                    "order_line": [(0, 0, {"product_id": product.id})],
                }
            )
        )
        order.action_confirm()
        credit = self.env["retainer.ledger.entry"].search(
            [("sale_line_id", "in", order.order_line.ids)]
        )
        self.assertEqual(credit.units, 28)
        self.assertEqual(credit.date, date(2026, 3, 15))
        self.assertEqual(credit.expiry_date, date(2027, 3, 15))
