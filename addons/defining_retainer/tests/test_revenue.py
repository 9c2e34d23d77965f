from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common_revenue import RetainerRevenueCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueSettings(RetainerRevenueCommon):
    def test_chart_of_accounts_brings_the_deferred_account(self):
        self.assertRecordValues(
            self.company,
            [
                {
                    "retainer_deferred_account_id": self.deferred.id,
                    "retainer_revenue_account_id": self.revenue.id,
                }
            ],
        )
        self.assertEqual(self.deferred.account_type, "liability_current")
        self.assertEqual(self.deferred.name, "Deferred retainer revenue")
        self.assertEqual(self.revenue.account_type, "income")
        self.assertEqual(self.company.retainer_revenue_journal_id.type, "general")

    def test_deferral_needs_its_accounts_and_journal(self):
        with self.assertRaisesRegex(
            ValidationError, "needs the Deferred revenue account"
        ):
            self.company.retainer_deferred_account_id = False
        with self.assertRaisesRegex(ValidationError, "needs the Recognition journal"):
            self.company.retainer_revenue_journal_id = False
        self.assertEqual(self.company.retainer_deferred_account_id, self.deferred)

    def test_account_types_are_checked(self):
        with self.assertRaisesRegex(ValidationError, "must be a liability account"):
            self.company.retainer_deferred_account_id = self.revenue
        with self.assertRaisesRegex(ValidationError, "must be income accounts"):
            self.company.retainer_revenue_account_id = self.deferred
        with self.assertRaisesRegex(ValidationError, "must be income accounts"):
            self.company.retainer_breakage_account_id = self.deferred
        with self.assertRaisesRegex(ValidationError, "must be a miscellaneous journal"):
            self.company.retainer_revenue_journal_id = self.company_data[
                "default_journal_sale"
            ]
        self.assertRecordValues(
            self.company,
            [
                {
                    "retainer_deferred_account_id": self.deferred.id,
                    "retainer_revenue_account_id": self.revenue.id,
                    "retainer_breakage_account_id": self.breakage.id,
                }
            ],
        )


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueInvoices(RetainerRevenueCommon):
    def test_retainer_lines_post_to_deferred_revenue(self):
        _order, invoice = self._sell(2)
        line = invoice.invoice_line_ids
        self.assertRecordValues(
            line,
            [
                {
                    "account_id": self.deferred.id,
                    "retainer_deferred": True,
                    "balance": -1400.0,
                }
            ],
        )
        # The same on its credit note.
        refund = self._refund(invoice)
        self.assertRecordValues(
            refund.invoice_line_ids,
            [
                {
                    "account_id": self.deferred.id,
                    "retainer_deferred": True,
                    "balance": 1400.0,
                }
            ],
        )

    def test_other_lines_and_overdrafts_are_revenue_at_once(self):
        order = self._order(
            [(self.product_day, 1), (self.product_consulting, 2)], confirm=True
        )
        invoice = self._invoice(order)
        consulting = invoice.invoice_line_ids.filtered(
            lambda line: line.product_id == self.product_consulting
        )
        self.assertRecordValues(
            consulting,
            [
                {
                    "account_id": self.company_data["default_account_revenue"].id,
                    "retainer_deferred": False,
                }
            ],
        )
        contract = order.retainer_id
        contract._post_manual_entry("adjustment", -6, "Time used beyond the block")
        contract._post_manual_entry("adjustment", -28, "More time used")
        action = contract.action_invoice_overdraft()
        overdraft = self.env["account.move"].browse(action["res_id"])
        overdraft.action_post()
        self.assertEqual(
            overdraft.invoice_line_ids.account_id,
            self.company_data["default_account_revenue"],
        )
        self.assertFalse(overdraft.invoice_line_ids.retainer_deferred)

    def test_turning_deferral_on_affects_new_invoices_only(self):
        self.company.retainer_defer_revenue = False
        with freeze_time("2026-01-10"):
            order, invoice = self._sell(1)
        self.assertFalse(invoice.invoice_line_ids.retainer_deferred)
        self.assertNotEqual(invoice.invoice_line_ids.account_id, self.deferred)
        self.company.retainer_defer_revenue = True
        self._log_on(order.retainer_id, 2.0, date(2026, 1, 20))
        with freeze_time("2026-02-03"):
            self.assertFalse(self._recognize(date(2026, 1, 31)))
        self.assertFalse(
            self.env["retainer.revenue.line"].search(
                [("contract_id", "=", order.retainer_id.id)]
            )
        )


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueRecognition(RetainerRevenueCommon):
    def test_usage_is_recognised_once(self):
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)  # 28 units for 700.00
        contract = order.retainer_id
        self._log_on(contract, 3.5, date(2026, 1, 20))  # 14 units
        self._log_on(contract, 1.0, date(2026, 2, 2))  # next month
        with freeze_time("2026-02-03"):
            move = self._recognize(date(2026, 1, 31))
            self.assertRecordValues(
                move,
                [{"state": "posted", "date": date(2026, 1, 31), "move_type": "entry"}],
            )
            self.assertIn("2026-01-31", move.ref)
            self.assertEqual(
                self._lines(move),
                self._items(
                    [
                        (self.deferred, self.customer, 350.0),
                        (self.revenue, self.customer, -350.0),
                    ]
                ),
            )
            # A second run, for the same date, posts nothing more; so does
            # the button.
            self.assertFalse(self._recognize(date(2026, 1, 31)))
            wizard = (
                self.env["retainer.revenue.recognize"]
                .with_user(self.account_manager)
                .create({"date": date(2026, 1, 31)})
            )
            self.assertEqual(wizard.company_ids, self.company)
            action = wizard.action_recognize()
            self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(contract.recognized_value, 350.0)
        self.assertEqual(contract.unearned_value, 700.0 - 350.0 - 100.0)
        self._assert_books_agree(date(2026, 1, 31), 350.0)

    def test_monthly_job_recognises_the_previous_month(self):
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)
        self._log_on(order.retainer_id, 1.0, date(2026, 1, 20))  # 100.00
        self._log_on(order.retainer_id, 1.0, date(2026, 2, 2))  # February
        cron = self.env.ref("defining_retainer.ir_cron_retainer_recognize_revenue")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "months"))
        with freeze_time("2026-02-05 03:30:00"):
            cron.method_direct_trigger()
        lines = self.env["retainer.revenue.line"].search(
            [("contract_id", "=", order.retainer_id.id)]
        )
        self.assertRecordValues(
            lines, [{"date": date(2026, 1, 31), "kind": "usage", "value": 100.0}]
        )
        self.assertEqual(self.company.retainer_recognized_until, date(2026, 1, 31))
        # Missed in March: April's run catches February and March up.
        with freeze_time("2026-04-01 03:30:00"):
            cron.method_direct_trigger()
            cron.method_direct_trigger()  # and a second run does nothing
            self.assertFalse(
                self.env["retainer.revenue.line"]._retainer_recognize(
                    date(2026, 3, 31), self.env["res.company"]
                )
            )
        self.assertEqual(
            self.env["retainer.revenue.line"]
            .search([("contract_id", "=", order.retainer_id.id)])
            .mapped("value"),
            [100.0, 100.0],
        )
        self.assertEqual(self.company.retainer_recognized_until, date(2026, 3, 31))

    def test_late_correction_is_recognised_in_the_next_period(self):
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)  # 25.00 per unit
        contract = order.retainer_id
        january = self._log_on(contract, 2.0, date(2026, 1, 20))  # 8 units
        with freeze_time("2026-02-03"):
            self._recognize(date(2026, 1, 31))
        # Entered in February, dated in January; the January work corrected.
        self._log_on(contract, 1.0, date(2026, 1, 25))
        january.unit_amount = 1.0
        report = self._report(date(2026, 1, 31))
        self.assertEqual(report.unrecognized_value, 0.0)  # 8 - 4 + 4 units
        january.unit_amount = 0.5  # 2 units: 6 in January now
        report = self._report(date(2026, 1, 31))
        self.assertEqual(
            (report.unearned_value, report.unrecognized_value, report.difference),
            (700.0 - 150.0, -50.0, 0.0),
        )
        with freeze_time("2026-03-02"):
            move = self._recognize(date(2026, 2, 28))
        # Recognised in the run's period; the January entry is untouched.
        self.assertEqual(
            self._lines(move),
            self._items(
                [
                    (self.deferred, self.customer, -50.0),
                    (self.revenue, self.customer, 50.0),
                ]
            ),
        )
        self.assertEqual(contract.recognized_value, 150.0)
        self._assert_books_agree(date(2026, 2, 28), 550.0)

    def test_expired_units_go_to_breakage(self):
        self.product_day.retainer_validity_months = 1
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)
        contract = order.retainer_id
        self._log_on(contract, 1.0, date(2026, 1, 20))  # 4 units
        with freeze_time("2026-02-11"):
            self.env["retainer.contract"]._retainer_expire_blocks()
        with freeze_time("2026-03-02"):
            move = self._recognize(date(2026, 2, 28))
        self.assertEqual(
            self._lines(move),
            self._items(
                [
                    (self.deferred, self.customer, 700.0),
                    (self.revenue, self.customer, -100.0),
                    (self.breakage, self.customer, -600.0),
                ]
            ),
        )
        self._assert_books_agree(date(2026, 2, 28), 0.0)

    def test_late_time_on_an_expired_block_moves_breakage_to_revenue(self):
        self.product_day.retainer_validity_months = 1
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)  # expires on February 10
        contract = order.retainer_id
        self._log_on(contract, 1.0, date(2026, 1, 20))  # 4 units
        with freeze_time("2026-02-11"):
            self.env["retainer.contract"]._retainer_expire_blocks()
        with freeze_time("2026-03-02"):
            self._recognize(date(2026, 2, 28))  # 100.00 used, 600.00 expired
        # March 5: an hour of February 5 logged late: the block's expiry is
        # corrected (4 units less expire); February's figures now say so.
        with freeze_time("2026-03-05"):
            self._log_on(contract, 1.0, date(2026, 2, 5))
        report = self._report(date(2026, 2, 28), date_from=date(2026, 2, 1))
        self.assertRecordValues(
            report.line_ids,
            [
                {
                    "remaining_units": 0,
                    "used_value": 100.0,  # the late hour
                    "expired_value": 500.0,  # 20 units
                    "recognized_value": 700.0,
                    "unrecognized_value": 0.0,
                }
            ],
        )
        self.assertEqual((report.deferred_value, report.difference), (0.0, 0.0))
        with freeze_time("2026-04-02"):
            move = self._recognize(date(2026, 3, 31))
        self.assertEqual(
            self._lines(move),
            self._items(
                [
                    (self.revenue, self.customer, -100.0),
                    (self.breakage, self.customer, 100.0),
                ]
            ),
        )
        self._assert_books_agree(date(2026, 3, 31), 0.0)

    def test_rolled_over_units_keep_their_value(self):
        self.product_day.retainer_validity_months = 1
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)
        contract = order.retainer_id
        contract.write({"rollover_max_units": 8, "rollover_validity_months": 1})
        self._log_on(contract, 1.0, date(2026, 1, 20))  # 4 units
        with freeze_time("2026-02-11"):
            self.env["retainer.contract"]._retainer_expire_blocks()
        self._log_on(contract, 1.0, date(2026, 2, 15))  # 4 of the rolled 8
        with freeze_time("2026-03-02"):
            move = self._recognize(date(2026, 2, 28))
        # 16 units expired without rolling over: breakage; 8 rolled, 4 used.
        self.assertEqual(
            self._lines(move),
            self._items(
                [
                    (self.deferred, self.customer, 600.0),
                    (self.revenue, self.customer, -200.0),
                    (self.breakage, self.customer, -400.0),
                ]
            ),
        )
        self._assert_books_agree(date(2026, 2, 28), 100.0)

    def test_credited_before_invoiced_waits_for_the_value(self):
        order = self._order([(self.product_day, 1)])
        contract = order.retainer_id
        self._log_on(contract, 2.0, date(2026, 1, 20))  # 8 units
        block = self._credits(contract)
        self.assertTrue(block.value_pending)
        with freeze_time("2026-02-03"):
            self.assertFalse(self._recognize(date(2026, 1, 31)))
        invoice = self._invoice(order, post=False)
        invoice.invoice_date = date(2026, 2, 5)
        invoice.action_post()
        self.assertFalse(block.value_pending)
        self.assertEqual(block.unit_value, 25.0)
        with freeze_time("2026-03-02"):
            move = self._recognize(date(2026, 2, 28))
        self.assertEqual(
            self._lines(move),
            self._items(
                [
                    (self.deferred, self.customer, 200.0),
                    (self.revenue, self.customer, -200.0),
                ]
            ),
        )

    def test_locked_period_is_recognised_on_the_first_open_day(self):
        with freeze_time("2026-01-10"):
            order, _invoice = self._sell(1)
        self._log_on(order.retainer_id, 1.0, date(2026, 1, 20))
        self.company.fiscalyear_lock_date = date(2026, 2, 15)
        with freeze_time("2026-03-02"):
            move = self._recognize(date(2026, 1, 31))
        self.assertEqual(move.date, date(2026, 2, 16))

    def test_full_refund_after_use_refunds_earned_revenue(self):
        with freeze_time("2026-01-10"):
            order, invoice = self._sell(1)
        contract = order.retainer_id
        self._log_on(contract, 3.5, date(2026, 1, 20))  # 14 of 28 units
        with freeze_time("2026-02-03"):
            self._recognize(date(2026, 1, 31))
        with freeze_time("2026-02-10"):
            refund = self._refund(invoice)
        reclass = self.env["retainer.revenue.line"].search(
            [("credit_note_id", "=", refund.id)]
        )
        self.assertRecordValues(reclass, [{"kind": "refund", "value": -350.0}])
        self.assertIn(refund.name, reclass.move_id.ref)
        self.assertEqual(
            self._lines(reclass.move_id),
            self._items(
                [
                    (self.deferred, self.customer, -350.0),
                    (self.revenue, self.customer, 350.0),
                ]
            ),
        )
        with freeze_time("2026-03-02"):
            self.assertFalse(self._recognize(date(2026, 2, 28)))
        self.assertEqual(contract.recognized_value, 0.0)
        self._assert_books_agree(date(2026, 2, 28), 0.0)
        # Reset to draft: the refund of earned revenue is reversed, never
        # rewritten.
        refund.button_draft()
        lines = self.env["retainer.revenue.line"].search(
            [("credit_note_id", "=", refund.id)]
        )
        self.assertEqual(sorted(lines.mapped("value")), [-350.0, 350.0])
        self.assertEqual(contract.recognized_value, 350.0)


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueRefusals(RetainerRevenueCommon):
    def _moves(self):
        return self.env["account.move"].search_count(
            [("journal_id", "=", self.company.retainer_revenue_journal_id.id)]
        )

    def setUp(self):
        super().setUp()
        with freeze_time("2026-01-10"):
            self.order, _invoice = self._sell(1)
        self._log_on(self.order.retainer_id, 1.0, date(2026, 1, 20))

    def test_future_date_is_refused(self):
        before = self._moves()
        with (
            freeze_time("2026-02-03"),
            self.assertRaisesRegex(UserError, "only be recognised up to a past date"),
        ):
            self._recognize(date(2026, 2, 28))
        self.assertEqual(self._moves(), before)

    def test_user_without_accounting_rights_is_refused(self):
        before = self._moves()
        with (
            freeze_time("2026-02-03"),
            self.assertRaisesRegex(
                AccessError, "Only accounting managers can recognise"
            ),
        ):
            self.env["retainer.revenue.line"].with_user(
                self.accountant
            )._retainer_recognize(date(2026, 1, 31), self.company)
        self.assertEqual(self._moves(), before)

    def test_missing_settings_refuse_the_run(self):
        self.company.retainer_defer_revenue = False
        self.company.retainer_revenue_journal_id = False
        before = self._moves()
        with (
            freeze_time("2026-02-03"),
            self.assertRaisesRegex(ValidationError, "needs the Recognition journal"),
        ):
            self._recognize(date(2026, 1, 31))
        self.assertEqual(self._moves(), before)

    def test_date_before_the_last_run_is_refused(self):
        with freeze_time("2026-03-02"):
            self._recognize(date(2026, 2, 28))
            before = self._moves()
            with self.assertRaisesRegex(UserError, "already recognised up to"):
                self._recognize(date(2026, 1, 31))
        self.assertEqual(self._moves(), before)

    def test_recognition_lines_are_append_only(self):
        with freeze_time("2026-02-03"):
            self._recognize(date(2026, 1, 31))
        line = self.env["retainer.revenue.line"].search([], limit=1)
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            line.sudo().write({"value": 1.0})
        with self.assertRaisesRegex(UserError, "cannot be deleted"):
            line.sudo().unlink()


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueManualCredits(RetainerRevenueCommon):
    """A manual credit is worth nothing unless given a value; a given value
    is put on the deferred revenue account and recognised like a sold
    block's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.opening = cls.env["account.account"].create(
            {
                "name": "Opening balances (test)",
                "code": "RETOPEN",
                "account_type": "equity",
                "company_ids": [Command.set(cls.company.ids)],
            }
        )
        cls.finance_manager = new_test_user(
            cls.env,
            login="retainer_finance_manager",
            groups="account.group_account_manager,"
            "defining_retainer.group_retainer_manager",
            name="Frankie Finance",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.contract = cls._create_contract()

    def _credit(self, units=20, unit_value=30.0, user=None, **kwargs):
        wizard = (
            self.env["retainer.ledger.post"]
            .with_user(user or self.finance_manager)
            .create(
                {
                    "contract_id": self.contract.id,
                    "kind": kwargs.pop("kind", "credit"),
                    "units": units,
                    "date": kwargs.pop("credit_date", date(2026, 1, 5)),
                    "reason": "Balance taken over from the old system",
                    "unit_value": unit_value,
                    "value_account_id": kwargs.pop("account", self.opening).id,
                    **kwargs,
                }
            )
        )
        wizard.action_post()
        return self.contract.ledger_entry_ids.filtered(
            lambda e: e.kind in ("credit", "adjustment")
        ).sorted("id")[-1:]

    def test_given_value_is_deferred_and_recognised_as_used(self):
        with freeze_time("2026-01-05"):
            credit = self._credit(expiry_date=date(2026, 2, 15))
        move = credit.sudo().value_move_id
        self.assertRecordValues(
            move, [{"state": "posted", "date": date(2026, 1, 5), "move_type": "entry"}]
        )
        self.assertEqual(
            self._lines(move),
            self._items(
                [
                    (self.opening, self.customer, 600.0),
                    (self.deferred, self.customer, -600.0),
                ]
            ),
        )
        contract = self.contract.with_user(self.finance_manager)
        self.assertEqual(credit.with_user(self.finance_manager).unit_value, 30.0)
        self.assertEqual(contract.unearned_value, 600.0)
        self._log_on(self.contract, 2.0, date(2026, 1, 20))  # 8 units
        with freeze_time("2026-02-02"):
            january = self._recognize(date(2026, 1, 31))
        self.assertEqual(
            self._lines(january),
            self._items(
                [
                    (self.deferred, self.customer, 240.0),
                    (self.revenue, self.customer, -240.0),
                ]
            ),
        )
        self.assertEqual(january.line_ids.mapped("name"), [january.ref] * 2)
        recognized = self.env["retainer.revenue.line"].search(
            [("move_id", "=", january.id)]
        )
        self.assertRecordValues(
            recognized,
            [{"block_entry_id": credit.id, "sale_line_id": False, "value": 240.0}],
        )
        report = self._assert_books_agree(date(2026, 1, 31), 360.0)
        self.assertRecordValues(
            report.line_ids,
            [{"block_entry_id": credit.id, "remaining_units": 12, "unit_value": 30.0}],
        )
        # The 12 units left expire on 15 February: breakage at the next run.
        with freeze_time("2026-02-16"):
            self.env["retainer.contract"]._retainer_expire_blocks()
        with freeze_time("2026-03-02"):
            february = self._recognize(date(2026, 2, 28))
        self.assertEqual(
            self._lines(february),
            self._items(
                [
                    (self.deferred, self.customer, 360.0),
                    (self.breakage, self.customer, -360.0),
                ]
            ),
        )
        self._assert_books_agree(date(2026, 2, 28), 0.0)
        self.assertEqual(contract.recognized_value, 600.0)
        self.assertEqual(contract.unearned_value, 0.0)

    def test_credit_without_value_is_worth_nothing(self):
        with freeze_time("2026-01-05"):
            credit = self._credit(unit_value=0.0)
        self._log_on(self.contract, 2.0, date(2026, 1, 20))
        self.assertFalse(credit.sudo().value_move_id)
        self.assertEqual(credit.with_user(self.finance_manager).unit_value, 0.0)
        contract = self.contract.with_user(self.finance_manager)
        self.assertEqual(contract.unearned_value, 0.0)
        with freeze_time("2026-02-02"):
            self.assertFalse(self._recognize(date(2026, 1, 31)))

    def test_bad_values_are_refused_and_nothing_is_written(self):
        other_company_account = self.env["account.account"].create(
            {"name": "Elsewhere", "code": "RETELSE", "account_type": "equity"}
        )
        clerk = new_test_user(
            self.env,
            login="retainer_manager_no_accounting",
            groups="defining_retainer.group_retainer_manager",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        cases = [
            ({"unit_value": -1.0}, UserError, "cannot be negative"),
            (
                {"kind": "adjustment", "unit_value": 5.0},
                UserError,
                "Only a credit can be given a value",
            ),
            ({"account": self.deferred}, UserError, "not the deferred revenue"),
            ({"user": clerk}, AccessError, "Only accounting managers"),
            (
                {"expiry_date": date(2026, 1, 1)},
                UserError,
                r"cannot expire \(2026-01-01\) before its date",
            ),
        ]
        moves_before = self.env["account.move"].search_count([])
        for kwargs, error, message in cases:
            with (
                self.subTest(kwargs=kwargs),
                self.assertRaisesRegex(error, message),
                freeze_time("2026-01-05"),
            ):
                self._credit(**kwargs)
        with self.assertRaisesRegex(UserError, "Choose the account"):
            self.contract.with_user(self.finance_manager)._post_manual_entry(
                "credit", 4, "No account", date(2026, 1, 5), unit_value=10.0
            )
        self.company.retainer_defer_revenue = False
        with self.assertRaisesRegex(UserError, "does not defer retainer revenue"):
            self._credit(account=other_company_account)
        self.assertFalse(self.contract.ledger_entry_ids)
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueYear(RetainerRevenueCommon):
    """One customer through a year, in a GBP company invoicing in EUR: a
    discounted sale, usage over three months, a late correction, a partial
    credit note, expiry with breakage. Every journal item is checked, and at
    each month end: report total = deferred account = remaining units x
    unit value."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gbp = cls.env.ref("base.GBP")
        cls.gbp.active = True
        cls.company.currency_id = cls.gbp
        cls.eur = cls.setup_other_currency(
            "EUR", rates=[("2026-01-01", 1.25), ("2026-06-01", 1.10)]
        )
        cls.pricelist_eur = cls.env["product.pricelist"].create(
            {"name": "Euro customers", "currency_id": cls.eur.id}
        )
        cls.product_day.retainer_validity_months = 4

    def _entry(self, cutoff, today):
        with freeze_time(today):
            return self._recognize(cutoff)

    def _assert_items(self, move, *items):
        self.assertEqual(self._lines(move), self._items(items))

    def test_a_year_of_one_customer(self):
        customer = self.customer
        # January: 2 days at 900.00 EUR less 10 % = 1,620.00 EUR, invoiced at
        # 1.25 EUR per GBP: 1,296.00 GBP of deferred revenue for 56 units.
        with freeze_time("2026-01-10"):
            order, invoice = self._sell(
                2, price=900.0, discount=10.0, pricelist_id=self.pricelist_eur.id
            )
        contract = order.retainer_id
        self.assertEqual(invoice.currency_id, self.eur)
        self.assertRecordValues(
            invoice.invoice_line_ids,
            [
                {
                    "account_id": self.deferred.id,
                    "amount_currency": -1620.0,
                    "balance": -1296.0,
                    "retainer_deferred": True,
                }
            ],
        )
        [block] = self._credits(contract)
        self.assertEqual(
            (block.units, block.expiry_date, block.unit_value),
            # Shown rounded; the figures use the amount: 1,296.00 / 56.
            (56, date(2026, 5, 10), 23.14),
        )
        with freeze_time("2026-01-20"):
            january = self._log_on(contract, 3.5, date(2026, 1, 20))  # 14 units

        # Month ends: used value = 1,296.00 x used units / 56, rounded once.
        self._assert_items(
            self._entry(date(2026, 1, 31), "2026-02-02"),
            (self.deferred, customer, 324.0),
            (self.revenue, customer, -324.0),
        )
        self._assert_books_agree(date(2026, 1, 31), 972.0)  # 42 units left

        with freeze_time("2026-02-15"):
            self._log_on(contract, 2.5, date(2026, 2, 15))  # 10 units: 24 used
        self._assert_items(
            self._entry(date(2026, 2, 28), "2026-03-02"),
            (self.deferred, customer, 231.43),  # 555.43 - 324.00
            (self.revenue, customer, -231.43),
        )
        self._assert_books_agree(date(2026, 2, 28), 740.57)

        # March 5: an hour of February forgotten, January corrected to 3 h
        # (12 units). February's entry stays; the report shows what is
        # earned but not recognised yet (26 units: 601.71 - 555.43).
        with freeze_time("2026-03-05"):
            self._log_on(contract, 1.0, date(2026, 2, 20))
            january.unit_amount = 3.0
        report = self._report(date(2026, 2, 28))
        self.assertEqual(
            (report.unrecognized_value, report.deferred_value, report.difference),
            (46.28, 740.57, 0.0),
        )
        with freeze_time("2026-03-10"):
            self._log_on(contract, 2.0, date(2026, 3, 10))  # 8 units: 34 used
        self._assert_items(
            self._entry(date(2026, 3, 31), "2026-04-02"),
            (self.deferred, customer, 231.43),  # 786.86 - 555.43
            (self.revenue, customer, -231.43),
        )
        self._assert_books_agree(date(2026, 3, 31), 509.14)  # 22 units left

        # April 15: a credit note of 10 % (162.00 EUR = 129.60 GBP) takes
        # back 6 units (5.6 rounded): 50 units paid 1,166.40, the same block.
        with freeze_time("2026-04-15"):
            refund = self._refund_lines(invoice, quantity=0.2)
        self.assertRecordValues(
            refund.invoice_line_ids,
            [{"account_id": self.deferred.id, "balance": 129.6}],
        )
        # 22 units (509.14) were unearned: nothing earned is refunded.
        self.assertFalse(
            self.env["retainer.revenue.line"].search(
                [("credit_note_id", "=", refund.id)]
            )
        )
        live = self._credits(contract).filtered(lambda c: not c.reversal_entry_ids)
        self.assertRecordValues(
            live,
            [
                {
                    "units": 50,
                    "date": date(2026, 1, 10),
                    "expiry_date": date(2026, 5, 10),
                }
            ],
        )
        self.assertEqual(live.unit_value, 23.33)  # 1,166.40 / 50
        # The unit's value moved (10 % of the price for 6 of 56 units): 34
        # used units are now worth 793.15.
        self._assert_items(
            self._entry(date(2026, 4, 30), "2026-05-02"),
            (self.deferred, customer, 6.29),
            (self.revenue, customer, -6.29),
        )
        self._assert_books_agree(date(2026, 4, 30), 373.25)  # 16 units left

        # May 10: the 16 units left expire: breakage.
        with freeze_time("2026-05-11"):
            self.env["retainer.contract"]._retainer_expire_blocks()
        self.assertEqual(live.expired_units, 16)
        self._assert_items(
            self._entry(date(2026, 5, 31), "2026-06-02"),
            (self.deferred, customer, 373.25),
            (self.breakage, customer, -373.25),
        )
        self._assert_books_agree(date(2026, 5, 31), 0.0)

        # The rate moved on June 1: values stay those of the invoices.
        self.assertFalse(self._entry(date(2026, 6, 30), "2026-07-02"))
        self.assertEqual(live.unit_value, 23.33)  # 1,166.40 / 50
        self._assert_books_agree(date(2026, 6, 30), 0.0)
        # Everything recognised is the value of all used and expired units.
        recognised = self.env["retainer.revenue.line"].search(
            [("contract_id", "=", contract.id)]
        )
        self.assertAlmostEqual(sum(recognised.mapped("value")), 1166.4)
        self.assertEqual(
            sorted(recognised.mapped("value")), [6.29, 231.43, 231.43, 324.0, 373.25]
        )
        self.assertAlmostEqual(contract.recognized_value, 1166.4)
        self.assertEqual(contract.unearned_value, 0.0)


@tagged("post_install", "-at_install", "defining_retainer")
class TestRevenueQueries(RetainerRevenueCommon):
    """The run reads every retainer's figures in a constant number of
    queries: the count does not grow with the number of customers."""

    def _customers(self, count):
        contracts = self.env["retainer.contract"]
        for number in range(count):
            partner = self.env["res.partner"].create(
                {"name": f"Query customer {number}", "is_company": True}
            )
            with freeze_time("2026-01-10"):
                order, invoice = self._sell(1, partner=partner)
                self._refund_lines(invoice, quantity=0.25)
            contracts |= order.retainer_id
        return contracts

    def _use(self, contracts, month):
        for contract in contracts:
            self._log_on(contract, 1.0, date(2026, month, 20))
            self._log_on(contract, 0.5, date(2026, month, 21))

    def _run_queries(self, cutoff, today):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        with freeze_time(today):
            move = self._recognize(cutoff)
        return self.env.cr.sql_log_count - before, move

    def test_run_queries_do_not_grow_with_customers(self):
        first = self._customers(2)
        self._use(first, 1)
        self._run_queries(date(2026, 1, 31), "2026-02-02")  # warm-up
        self._use(first, 2)
        few, move = self._run_queries(date(2026, 2, 28), "2026-03-02")
        self.assertEqual(len(move.line_ids), 2 * 2)  # deferred + revenue
        more = first | self._customers(6)
        self._use(more, 3)
        many, move = self._run_queries(date(2026, 3, 31), "2026-04-02")
        self.assertEqual(len(move.line_ids), 2 * 8)
        self.assertEqual(many, few)
