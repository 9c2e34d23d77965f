from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common_sale import RetainerSaleCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestInvoicing(RetainerSaleCommon):
    """When a sold credit becomes usable, for each credit trigger, through
    every way an invoice is posted, paid, refunded or undone."""

    def _sell_two_days(self, trigger):
        self._set_trigger(trigger)
        order = self._order([(self.product_day, 2)])
        return order, order.retainer_id

    def _reversals(self, contract):
        return self.env["retainer.ledger.entry"].search(
            [("contract_id", "=", contract.id), ("kind", "=", "reversal")], order="id"
        )

    def _pay_by_statement(self, invoice):
        """Pay ``invoice`` by reconciling a bank statement line with it, as
        the bank reconciliation would."""
        st_line = self.env["account.bank.statement.line"].create(
            {
                "journal_id": self.company_data["default_journal_bank"].id,
                "partner_id": self.customer.id,
                "amount": invoice.amount_total,
                "payment_ref": invoice.name,
                "date": invoice.invoice_date,
            }
        )
        _liquidity, suspense, _other = st_line.with_context(
            skip_account_move_synchronization=True
        )._seek_for_lines()
        receivable = invoice.line_ids.filtered(
            lambda line: line.account_type == "asset_receivable"
        )
        suspense.account_id = receivable.account_id
        (suspense + receivable).reconcile()
        return st_line

    # === Trigger: confirmation === #

    def test_confirm_trigger(self):
        order, contract = self._sell_two_days("confirm")
        self.assertEqual(self._balance(contract), 56)
        invoice = self._invoice(order)
        self._pay(invoice)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(self._balance(contract), 56)
        self.assertEqual(len(self._credits(contract)), 1)
        self._refund(invoice)
        self.assertEqual(self._balance(contract), 0)
        # Exactly the credit concerned is reversed.
        self.assertEqual(
            self._reversals(contract).reversed_entry_id, self._credits(contract)
        )

    # === Trigger: posted invoice === #

    def test_posted_trigger(self):
        order, contract = self._sell_two_days("posted")
        self.assertEqual(order.retainer_credit_trigger, "posted")
        self.assertEqual(self._balance(contract), 0)
        invoice = self._invoice(order, post=False)
        self.assertEqual(self._balance(contract), 0)
        invoice.with_user(self.accountant).action_post()
        self.assertEqual(self._balance(contract), 56)
        credit = self._credits(contract)
        self.assertRecordValues(
            credit,
            [
                {
                    "units": 56,
                    "invoice_id": invoice.id,
                    "sale_line_id": order.order_line.id,
                }
            ],
        )
        invoice._retainer_sync_credits()
        invoice._retainer_sync_credits()
        self.assertEqual(self._ledger_count(), 1)
        # Reset to draft takes the units back; re-posting gives them again once.
        invoice.with_user(self.accountant).button_draft()
        self.assertEqual(self._balance(contract), 0)
        invoice.with_user(self.accountant).action_post()
        self.assertEqual(self._balance(contract), 56)
        self.assertEqual(self._ledger_count(), 3)
        # A credit note reverses the live credit, and only it.
        self._refund(invoice)
        self.assertEqual(self._balance(contract), 0)
        self.assertEqual(self._reversals(contract)[-1].reversed_entry_id.units, 56)
        self.assertEqual(self._ledger_count(), 4)

    def test_posted_trigger_cancel_invoice_and_order(self):
        order, contract = self._sell_two_days("posted")
        invoice = self._invoice(order)
        self.assertEqual(self._balance(contract), 56)
        invoice.button_draft()
        invoice.button_cancel()
        self.assertEqual(self._balance(contract), 0)
        # A new invoice for the order line_credits again.
        second = self._invoice(order)
        self.assertEqual(self._balance(contract), 56)
        order._action_cancel()
        self.assertEqual(self._balance(contract), 0)
        second._retainer_sync_credits()
        self.assertEqual(self._balance(contract), 0)

    def test_posted_trigger_partial_credit_note(self):
        order, contract = self._sell_two_days("posted")
        invoice = self._invoice(order)
        refund = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "One day", "journal_id": invoice.journal_id.id})
        )
        refund = self.env["account.move"].browse(refund.refund_moves()["res_id"])
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        # One day refunded: the 56 credit is reversed and 28 credited again.
        self.assertEqual(self._balance(contract), 28)
        self.assertEqual(sorted(self._credits(contract).mapped("units")), [28, 56])

    def test_partial_credit_note_keeps_the_block_dates(self):
        """The units left after a partial credit note are the same block:
        its date and expiry date stay, whenever the credit note comes (a
        new date would make them usable, or expire, later)."""
        self.product_day.retainer_validity_months = 4
        with freeze_time("2026-01-10"):
            order, contract = self._sell_two_days("posted")
            invoice = self._invoice(order)
        with freeze_time("2026-04-15"):
            self._refund_lines(invoice, quantity=1)
        self.assertRecordValues(
            self._credits(contract),
            [
                {
                    "units": 56,
                    "date": date(2026, 1, 10),
                    "expiry_date": date(2026, 5, 10),
                },
                {
                    "units": 28,
                    "date": date(2026, 1, 10),
                    "expiry_date": date(2026, 5, 10),
                },
            ],
        )

    def test_partial_credit_note_after_the_usage_lock_date(self):
        """A credit note is never refused for the retainer's usage lock
        date: the units credited again follow it, on the first day after
        the lock date (the reported period stays as it was), with the
        block's expiry date."""
        self.product_day.retainer_validity_months = 4
        with freeze_time("2026-01-10"):
            order, contract = self._sell_two_days("posted")
            invoice = self._invoice(order)
        contract.usage_lock_date = date(2026, 1, 31)
        with freeze_time("2026-04-15"):
            self._refund_lines(invoice, quantity=1)
        self.assertRecordValues(
            self._credits(contract),
            [
                {
                    "units": 56,
                    "date": date(2026, 1, 10),
                    "expiry_date": date(2026, 5, 10),
                },
                {
                    "units": 28,
                    "date": date(2026, 2, 1),
                    "expiry_date": date(2026, 5, 10),
                },
            ],
        )
        self.assertEqual(self._reversals(contract).date, date(2026, 4, 15))
        self.assertEqual(self._balance(contract), 28)

    def test_credit_note_by_amount_takes_back_its_share(self):
        """A credit note of 20 % of one day's price takes back 20 % of its
        28 units (5.6, rounded half up: 6), never the whole day; the shares
        of several credit notes are added before rounding (30 %: 8.4 -> 8)."""
        for trigger in ("confirm", "posted", "paid"):
            with self.subTest(trigger=trigger):
                self._set_trigger(trigger)
                order = self._order([(self.product_day, 1)])
                contract = order.retainer_id
                invoice = self._invoice(order)
                self._pay(invoice)
                self.assertEqual(self._balance(contract), 28)
                self._refund_lines(invoice, price_unit=140.0)
                self.assertEqual(self._balance(contract), 22)
                # 10 % more, as a discount on the credit note line.
                self._refund_lines(invoice, discount=90.0)
                self.assertEqual(self._balance(contract), 20)
                # The rest of the price: the whole day is taken back.
                self._refund_lines(invoice, price_unit=490.0)
                self.assertEqual(self._balance(contract), 0)
                contract.action_close()

    def test_credit_note_by_amount_of_an_invoice_at_another_price(self):
        """The share is measured against the price invoiced, not the
        order's: a full credit note of an invoice discounted to 600 takes
        the whole day back, half of it half of the day."""
        self._set_trigger("posted")
        order = self._order([(self.product_day, 2)])
        contract = order.retainer_id
        invoice = self._invoice(order, post=False)
        invoice.invoice_line_ids.price_unit = 600.0
        invoice.action_post()
        self.assertEqual(self._balance(contract), 56)
        self._refund_lines(invoice, quantity=1, price_unit=300.0)
        self.assertEqual(self._balance(contract), 42)
        self._refund_lines(invoice, quantity=1)
        self.assertEqual(self._balance(contract), 14)

    # === Trigger: paid invoice === #

    def test_paid_trigger_register_payment(self):
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        self.assertEqual(self._balance(contract), 0)
        # Partial payment: nothing until the invoice is paid in full.
        self._pay(invoice, amount=invoice.amount_total / 2)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(self._balance(contract), 0)
        self._pay(invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self._balance(contract), 56)
        self.assertEqual(self._credits(contract).invoice_id, invoice)
        # Unreconciling the payments makes the invoice unpaid: units go back.
        invoice.line_ids.remove_move_reconcile()
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(self._balance(contract), 0)
        invoice._retainer_sync_credits()
        self.assertEqual(self._ledger_count(), 2)

    def test_paid_trigger_bank_statement(self):
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        self._pay_by_statement(invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self._balance(contract), 56)

    def test_paid_trigger_payment_without_journal_entry(self):
        """With the accountant app (Enterprise), a payment method without
        outstanding account pays the invoice through matched payments, with
        no journal entry and no reconciliation (so no _invoice_paid_hook),
        passing by 'in_payment': the payment's state changes still credit."""
        Move = type(self.env["account.move"])
        journal = self.company_data["default_journal_bank"]
        method_line = journal.inbound_payment_method_line_ids[:1]
        method_line.payment_account_id = False
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        with patch.object(
            Move, "_get_invoice_in_payment_state", lambda self: "in_payment"
        ):
            payment = (
                self.env["account.payment.register"]
                .with_user(self.accountant)
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create(
                    {"journal_id": journal.id, "payment_method_line_id": method_line.id}
                )
                ._create_payments()
            )
            self.assertFalse(payment.move_id)
            self.assertEqual(invoice.payment_state, "in_payment")
            self.assertEqual(self._balance(contract), 56)
            payment.action_cancel()
            self.assertEqual(invoice.payment_state, "not_paid")
            self.assertEqual(self._balance(contract), 0)

    def test_paid_trigger_credit_note_after_payment(self):
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        self._pay(invoice)
        self.assertEqual(self._balance(contract), 56)
        self._refund(invoice)
        self.assertEqual(self._balance(contract), 0)
        self.assertEqual(
            self._reversals(contract).reversed_entry_id, self._credits(contract)
        )

    def test_paid_trigger_credit_note_on_unpaid_invoice(self):
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        invoice._reverse_moves(cancel=True)
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(self._balance(contract), 0)
        self.assertEqual(self._ledger_count(), 0)

    def test_paid_trigger_reset_to_draft_and_cancel(self):
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        self._pay(invoice)
        invoice.button_draft()
        self.assertEqual(self._balance(contract), 0)
        invoice.action_post()
        self.assertEqual(self._balance(contract), 0, "not paid any more")
        self._pay(invoice)
        self.assertEqual(self._balance(contract), 56)
        order._action_cancel()
        self.assertEqual(self._balance(contract), 0)
        order.action_draft()
        order.action_confirm()
        self.assertEqual(self._balance(contract), 56)

    def test_cancel_order_in_every_mode(self):
        for trigger in ("confirm", "posted", "paid"):
            with self.subTest(trigger=trigger):
                order, contract = self._sell_two_days(trigger)
                invoice = self._invoice(order)
                self._pay(invoice)
                self.assertEqual(self._balance(contract), 56)
                order._action_cancel()
                self.assertEqual(self._balance(contract), 0)
                line_credits = self._credits(contract)
                self.assertEqual(
                    self._reversals(contract).reversed_entry_id, line_credits
                )
                contract.action_close()

    def test_trigger_snapshot_on_order(self):
        order, contract = self._sell_two_days("paid")
        self._set_trigger("confirm")
        order.order_line._retainer_sync_credits()
        self.assertEqual(self._balance(contract), 0, "the order keeps its rule")

    # === Paths that bypass the hooks === #

    def test_cron_converges_when_hooks_are_bypassed(self):
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order)
        Move = type(self.env["account.move"])
        with patch.object(Move, "_retainer_sync_credits", lambda self: None):
            self._pay(invoice)
        self.assertEqual(self._balance(contract), 0)
        SaleLine = self.env["sale.order.line"]
        SaleLine._cron_retainer_sync_credits()
        self.assertEqual(self._balance(contract), 56)
        SaleLine._cron_retainer_sync_credits()
        self.assertEqual(self._balance(contract), 56)
        self.assertEqual(self._ledger_count(), 1)
        with patch.object(Move, "_retainer_sync_credits", lambda self: None):
            self._refund(invoice)
        SaleLine._cron_retainer_sync_credits()
        SaleLine._cron_retainer_sync_credits()
        self.assertEqual(self._balance(contract), 0)
        self.assertEqual(self._ledger_count(), 2)

    # === Rights, links and reports === #

    def test_accountant_without_sales_rights(self):
        self.assertFalse(self.accountant.has_group("sales_team.group_sale_salesman"))
        self.assertFalse(
            self.accountant.has_group("defining_retainer.group_retainer_user")
        )
        order, contract = self._sell_two_days("paid")
        invoice = self._invoice(order, post=False, user=self.accountant)
        invoice.with_user(self.accountant).action_post()
        self._pay(invoice, user=self.accountant)
        self.assertEqual(self._balance(contract), 56)
        invoice.with_user(self.accountant).button_draft()
        self.assertEqual(self._balance(contract), 0)

    def test_links_and_amounts(self):
        order, contract = self._sell_two_days("posted")
        invoice = self._invoice(order)
        self.assertEqual(invoice.invoice_line_ids.retainer_id, contract)
        self.assertEqual(contract.invoice_count, 1)
        self.assertEqual(contract.action_view_invoices()["res_id"], invoice.id)
        # Amounts, taxes and revenue are those of a plain sale.
        line = invoice.invoice_line_ids
        self.assertEqual(line.price_subtotal, 1400.0)
        self.assertEqual(line.tax_ids, self.tax_sale_a)
        self.assertEqual(line.account_id, self.company_data["default_account_revenue"])
        self.assertEqual(order.amount_untaxed, 1400.0)
        self.assertEqual(invoice.amount_untaxed, 1400.0)
        report = self.env["account.invoice.report"].search(
            [("move_id", "=", invoice.id)]
        )
        self.assertEqual(sum(report.mapped("price_subtotal")), 1400.0)
        self.env["sale.report"].flush_model()
        sale_report = self.env["sale.report"].search(
            [("order_reference", "=", f"sale.order,{order.id}")]
        )
        self.assertEqual(sum(sale_report.mapped("price_subtotal")), 1400.0)

    # === Overdrafts === #

    def _overdrawn_contract(self, units=-6):
        contract = self._create_contract()
        contract._post_manual_entry("adjustment", units, "Time used beyond the block")
        return contract

    def test_invoice_overdraft(self):
        contract = self._overdrawn_contract()
        action = contract.action_invoice_overdraft()
        invoice = self.env["account.move"].browse(action["res_id"])
        self.assertRecordValues(
            invoice,
            [
                {
                    "state": "draft",
                    "partner_id": self.customer.id,
                    "retainer_overdraft_id": contract.id,
                    "retainer_overdraft_units": 6,
                }
            ],
        )
        self.assertRecordValues(
            invoice.invoice_line_ids,
            [
                {
                    "product_id": self.product_overage.id,
                    "quantity": 1.5,
                    "price_unit": 120.0,
                    "retainer_id": contract.id,
                }
            ],
        )
        self.assertEqual(self._balance(contract), 0)
        credit = self._credits(contract)
        self.assertRecordValues(credit, [{"units": 6, "invoice_id": invoice.id}])
        # Posting changes nothing; a credit note takes the units back.
        invoice.action_post()
        self.assertEqual(self._balance(contract), 0)
        self._refund(invoice)
        self.assertEqual(self._balance(contract), -6)
        self.assertEqual(self._reversals(contract).reversed_entry_id, credit)

    def test_cancelled_overdraft_invoice_takes_units_back(self):
        contract = self._overdrawn_contract()
        invoice = contract._retainer_invoice_overdraft()
        with self.assertRaisesRegex(UserError, "Cancel the invoice instead of del"):
            invoice.unlink()
        invoice.button_cancel()
        self.assertEqual(self._balance(contract), -6)
        invoice.button_draft()
        self.assertEqual(self._balance(contract), 0)

    def test_invoice_overdraft_refused_without_overdraft(self):
        contract = self._create_contract(units=4)
        moves = self.env["account.move"].search_count([])
        count = self._ledger_count()
        with self.assertRaises(UserError) as error:
            contract.action_invoice_overdraft()
        self.assertIn("no overdraft", str(error.exception))
        self.assertEqual(self._ledger_count(), count)
        self.company.retainer_overdraft_mode = "net"
        contract._post_manual_entry("adjustment", -10, "Time used beyond the block")
        count = self._ledger_count()
        with self.assertRaises(UserError) as error:
            contract.action_invoice_overdraft()
        self.assertIn("nets overdrafts", str(error.exception))
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(self.env["account.move"].search_count([]), moves)
        # Netting: the next top-up simply absorbs the overdraft.
        self._order([(self.product_hour, 2)])
        self.assertEqual(self._balance(contract), 2)

    def test_overdraft_cron(self):
        contract = self._overdrawn_contract()
        Contract = self.env["retainer.contract"]
        Contract._cron_invoice_overdrafts()
        self.assertEqual(self._balance(contract), -6, "automatic invoicing is off")
        self.company.retainer_overdraft_auto_invoice = True
        Contract._cron_invoice_overdrafts()
        Contract._cron_invoice_overdrafts()
        self.assertEqual(self._balance(contract), 0)
        self.assertEqual(len(contract.overdraft_invoice_ids), 1)

    def test_overdraft_credit_note_of_another_line(self):
        """A credit note refunding only another product's line of an
        overdraft invoice takes no unit back; one refunding half of the
        overage line's amount takes half of them (3.5, rounded half up)."""
        contract = self._overdrawn_contract(-7)
        invoice = contract._retainer_invoice_overdraft()
        invoice.invoice_line_ids = [
            Command.create({"product_id": self.product_consulting.id, "quantity": 3})
        ]
        invoice.action_post()
        self.assertEqual(self._balance(contract), 0)
        self._refund_lines(invoice, keep=self.product_consulting)
        self.assertEqual(self._balance(contract), 0)
        self._refund_lines(invoice, keep=self.product_overage, price_unit=60.0)
        self.assertEqual(self._balance(contract), -4)

    def test_overdraft_invoice_changed_before_posting(self):
        """The units credited back follow the hours the invoice bills when
        it is posted (2 h -> 1 h: 4 of 8 units), never more than the
        overdraft it was made for."""
        contract = self._overdrawn_contract(-8)
        invoice = contract._retainer_invoice_overdraft()
        self.assertEqual(invoice.invoice_line_ids.quantity, 2.0)
        self.assertEqual(self._balance(contract), 0)
        invoice.invoice_line_ids.quantity = 1.0
        invoice.action_post()
        self.assertEqual(self._balance(contract), -4)
        invoice.button_draft()
        invoice.invoice_line_ids.quantity = 3.0
        invoice.action_post()
        self.assertEqual(self._balance(contract), 0)
        self._refund(invoice)
        self.assertEqual(self._balance(contract), -8)

    def test_overdraft_priced_like_a_sale_to_the_customer(self):
        """A EUR customer whose pricelist sells the overage hour at 99.00 is
        invoiced 99.00 EUR an hour, as a top-up order would price it."""
        eur = self.setup_other_currency("EUR")
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "EUR customers",
                "currency_id": eur.id,
                "company_id": self.company.id,
                "item_ids": [
                    Command.create(
                        {
                            "applied_on": "0_product_variant",
                            "product_id": self.product_overage.id,
                            "fixed_price": 99.0,
                        }
                    )
                ],
            }
        )
        self.customer.property_product_pricelist = pricelist
        contract = self._overdrawn_contract(-6)
        invoice = contract._retainer_invoice_overdraft()
        self.assertRecordValues(invoice, [{"currency_id": eur.id}])
        self.assertRecordValues(
            invoice.invoice_line_ids,
            [
                {
                    "product_id": self.product_overage.id,
                    "quantity": 1.5,
                    "price_unit": 99.0,
                    "price_subtotal": 148.5,
                    "currency_id": eur.id,
                    "tax_ids": self.product_overage.taxes_id.ids,
                }
            ],
        )
        # A top-up order of the same customer is priced the same way.
        order = self._order([(self.product_overage, 1.5)], confirm=False)
        self.assertRecordValues(
            order.order_line,
            [{"price_unit": 99.0, "currency_id": eur.id}],
        )
        self.assertEqual(self._balance(contract), 0)
