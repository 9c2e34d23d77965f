from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..tools.server_values import server_values
from .common_auto_topup import PaymentLifecycleCommon

GUARD_LOGGER = "odoo.addons.defining_retainer.models.sale_order"


@tagged("post_install", "-at_install", "defining_retainer")
class TestPaymentLifecycle(PaymentLifecycleCommon):
    """Units follow the money that was captured."""

    def test_authorized_payment_credits_nothing_until_captured(self):
        order = self._quotation()
        tx = self._pay_online(order)
        self.assertEqual(tx.state, "authorized")
        self.assertEqual(order.state, "sale", "Odoo confirms on authorization")
        self.assertEqual(
            self._balance(self.contract), 40, "a hold on the card credits nothing"
        )
        self.assertFalse(order.invoice_ids)
        # The daily resync keeps it that way.
        order.order_line._retainer_sync_credits()
        self.assertEqual(self._balance(self.contract), 40)
        self._capture(tx)
        self.assertEqual(self._balance(self.contract), 40 + 28)
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, "posted")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # Notified twice: nothing more.
        tx.is_post_processed = False
        tx._post_process()
        self.assertEqual(order.invoice_ids, invoice)
        self.assertEqual(self._balance(self.contract), 40 + 28)

    def test_captured_payment_credits_under_every_trigger(self):
        balance = 40
        for trigger in ("confirm", "posted", "paid"):
            with self.subTest(trigger=trigger):
                self._set_trigger(trigger)
                order = self._quotation()
                tx = self._pay_online(order)
                self.assertEqual(self._balance(self.contract), balance)
                self._capture(tx)
                balance += 28
                self.assertEqual(self._balance(self.contract), balance)
                self.assertEqual(order.invoice_ids.state, "posted")
                self.assertIn(order.invoice_ids.payment_state, ("paid", "in_payment"))

    def test_payment_captured_at_once_credits_under_every_trigger(self):
        self.provider.capture_manually = False
        balance = 40
        for trigger in ("confirm", "posted", "paid"):
            with self.subTest(trigger=trigger):
                self._set_trigger(trigger)
                order = self._quotation()
                tx = self._pay_online(order)
                self.assertEqual(tx.state, "done")
                balance += 28
                self.assertEqual(self._balance(self.contract), balance)

    def test_voided_authorization_cancels_the_order(self):
        order = self._quotation()
        tx = self._pay_online(order)
        self.assertEqual(order.state, "sale")
        self._void(tx)
        self.assertEqual(order.state, "cancel", "no money: the order is taken back")
        self.assertEqual(self._balance(self.contract), 40)
        self.assertFalse(self._credits(self.contract).filtered("sale_line_id"))
        self.assertTrue(self._messages(order, "was voided"))

    def test_a_small_captured_payment_does_not_release_a_hold(self):
        """Odoo confirms on the amounts authorized and captured together: a
        cent captured beside a hold of the rest is not the money."""
        self.provider.capture_manually = False
        order = self._quotation()
        small = self._pay_online(order, amount=1.0)
        self.assertEqual(small.state, "done")
        self.assertIn(order.state, ("draft", "sent"))
        self.provider.capture_manually = True
        hold = self._pay_online(order)
        self.assertEqual(hold.state, "authorized")
        self.assertEqual(order.state, "sale")
        self.assertEqual(self._balance(self.contract), 40)
        self.assertFalse(order.invoice_ids)
        # Voided: the cent captured is the customer's to get back, staff
        # decide; the order still credits nothing.
        self._void(hold)
        self.assertEqual(order.state, "sale")
        self.assertEqual(self._balance(self.contract), 40)
        self.assertIn(order.name, self._activity("Top-up payment voided").note)

    def test_salesperson_voids_the_hold_with_the_order_button(self):
        """The salesperson of the order voids the hold from it (sale's
        "Void Transaction" button); the order is taken back for them."""
        order = self._quotation()
        order.user_id = self.salesman
        tx = self._pay_online(order)
        order.with_user(self.salesman).payment_action_void()
        self.assertEqual(tx.state, "cancel")
        self.assertEqual(order.state, "cancel")
        self.assertEqual(self._balance(self.contract), 40)

    def test_hold_captured_in_part_then_voided_tells_staff(self):
        order = self._quotation()
        tx = self._pay_online(order)
        half = tx.currency_id.round(tx.amount / 2)
        tx._send_capture_request(amount_to_capture=half)
        tx._send_void_request(amount_to_void=tx.amount - half)
        (tx | tx.child_transaction_ids)._post_process()
        self.assertEqual(
            sorted(tx.child_transaction_ids.mapped("state")), ["cancel", "done"]
        )
        self.assertEqual(order.state, "sale", "money was captured: staff decide")
        self.assertEqual(self._balance(self.contract), 40, "half paid credits nothing")
        self.assertFalse(order.invoice_ids)
        activity = self._activity("Top-up payment voided")
        self.assertIn(order.name, activity.note)
        self.assertIn(f"{half:.2f} captured", activity.note)

    def test_voided_authorization_of_an_invoiced_order_tells_staff(self):
        order = self._quotation()
        tx = self._pay_online(order)
        invoice = self._invoice(order)  # invoiced by hand before the void
        self._void(tx)
        self.assertEqual(order.state, "sale", "a posted invoice is not undone")
        self.assertEqual(invoice.state, "posted")
        activity = self._activity("Top-up payment voided")
        self.assertEqual(activity.user_id, self.salesman)
        self.assertIn(order.name, activity.note)

    def test_failed_authorization_credits_nothing(self):
        order = self._quotation()
        tx = self._pay_online(order, "error")
        self.assertEqual(tx.state, "error")
        self.assertIn(order.state, ("draft", "sent"))
        self.assertEqual(self._balance(self.contract), 40)

    def test_refunded_payment_tells_the_account_manager(self):
        # Captured at once (the demo provider would only authorize a refund
        # made while it captures manually).
        self.provider.capture_manually = False
        order = self._quotation()
        tx = self._pay_online(order)
        self.assertEqual(tx.state, "done")
        self.assertEqual(self._balance(self.contract), 68)
        self._refund_tx(tx, amount=tx.amount / 2)
        activity = self._activity("Top-up payment refunded")
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.salesman)
        self.assertIn(order.name, activity.note)
        self.assertIn("credit note", activity.note)
        self.assertTrue(self._messages(order, "was refunded"))
        # The accountant's credit note takes the units back.
        self._refund(order.invoice_ids)
        self.assertEqual(self._balance(self.contract), 40)

    def test_expired_quotation_cannot_be_paid(self):
        order = self._quotation()
        order.validity_date = fields.Date.today() - timedelta(days=1)
        self.assertTrue(order.is_expired)
        with self.assertRaisesRegex(UserError, "expired"):
            self._new_transaction(order)
        self.assertFalse(self._transactions(order))
        self.assertIn(order.state, ("draft", "sent"))
        self.assertEqual(self._balance(self.contract), 40)
        # Still valid today: it may be paid.
        order.validity_date = fields.Date.today()
        self.assertTrue(self._new_transaction(order))


@tagged("post_install", "-at_install", "defining_retainer")
class TestAutoTopupPaymentLifecycle(PaymentLifecycleCommon):
    """The automatic top-up charges only a genuine automatic top-up, to a
    saved method still its customer's, and its units follow the money."""

    def test_charge_authorized_credits_on_capture(self):
        self.contract.auto_topup_token_id = self._token("done")
        order = self._cross()
        self._run_job()
        tx = self._transactions(order)
        self.assertEqual(tx.state, "authorized")
        self.assertEqual(order.state, "sale")
        self.assertEqual(self._balance(self.contract), 28, "only a hold")
        self._capture(tx)
        self.assertEqual(self._balance(self.contract), 28 + 56)

    def test_charge_voided_cancels_the_order(self):
        self.contract.auto_topup_token_id = self._token("done")
        order = self._cross()
        self._run_job()
        self._void(self._transactions(order))
        self.assertEqual(order.state, "cancel")
        self.assertEqual(self._balance(self.contract), 28)

    def test_saved_method_of_a_contact_who_left_is_not_charged(self):
        token = self._token("done", partner=self.customer_contact)
        self.contract.auto_topup_token_id = token
        order = self._cross()
        # The contact leaves the customer for another company.
        self.customer_contact.parent_id = self.partner_a
        self._run_job()
        self.assertFalse(self._transactions(order), "never charged")
        self.assertEqual(order.retainer_auto_topup_state, "sent")
        self.assertEqual(order.state, "sent", "sent to pay online instead")
        activity = self._activity("Automatic top-up not charged")
        self.assertIn("no longer", activity.note)
        self.assertIn(self.customer_contact.name, activity.note)

    def test_saved_method_of_another_company_is_not_charged(self):
        other_company = self.env["res.company"].create({"name": "Elsewhere Ltd"})
        token = self._token("done")
        self.contract.auto_topup_token_id = token
        order = self._cross()
        # sudo: as a write that skipped the retainer's check would leave it.
        other_provider = self.provider.copy({"company_id": other_company.id})
        token.sudo().provider_id = other_provider
        self._run_job()
        self.assertFalse(self._transactions(order))
        self.assertEqual(order.retainer_auto_topup_state, "sent")

    def test_only_genuine_automatic_topups_are_charged(self):
        self.contract.auto_topup_token_id = self._token("done")
        genuine = self._cross()
        genuine._retainer_set_auto_topup_state(False)  # out of the way
        on_retainer = {"retainer_id": self.contract.id}
        cases = {
            "unrelated goods": self._order(
                [(self.product_consulting, 10)], confirm=False, **on_retainer
            ),
            "a sales order": self._order(
                [(self.product_day, 2)], confirm=False, **on_retainer
            ),
            "more than configured": self._order(
                [(self.product_day, 50)], confirm=False, **on_retainer
            ),
            "another product added": genuine.copy(
                {
                    "order_line": [
                        Command.create(
                            {"product_id": self.product_day.id, "product_uom_qty": 2}
                        ),
                        Command.create(
                            {
                                "product_id": self.product_consulting.id,
                                "product_uom_qty": 1,
                            }
                        ),
                    ]
                }
            ),
            "another customer's invoice address": genuine.copy(
                {"partner_invoice_id": self.partner_a.id}
            ),
        }
        # Written as the server would (a salesperson cannot write them).
        for case, order in cases.items():
            with server_values():
                order.write(
                    {
                        "retainer_auto_topup_state": "to_charge",
                        "retainer_topup_origin": (
                            "sale" if case == "a sales order" else "auto"
                        ),
                    }
                )
        with mute_logger(GUARD_LOGGER):
            self._run_job()
        for case, order in cases.items():
            with self.subTest(case=case):
                self.assertFalse(self._transactions(order), "never charged")
                self.assertEqual(order.retainer_auto_topup_state, "failed")
                self.assertIn(order.state, ("draft", "sent"))
        notes = self._activity("Automatic top-up failed").mapped("note")
        self.assertTrue(any("not an automatic top-up" in note for note in notes))
        self.assertEqual(self._balance(self.contract), 28)

    def test_automatic_topup_quantity_is_bounded(self):
        # One retainer day is 28 units: at most 100 days per top-up, as one
        # portal purchase.
        self.contract.auto_topup_quantity = 100
        for quantity in (101, 1_000_000):
            with (
                self.subTest(quantity=quantity),
                self.assertRaisesRegex(
                    ValidationError, r"cannot be more than 100 \(100 retainer days\)"
                ),
            ):
                self.contract.auto_topup_quantity = quantity
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.auto_topup_quantity, 100)
        # In hours: 700 hours of 4 units.
        with self.assertRaisesRegex(ValidationError, "cannot be more than 700"):
            self.contract.write(
                {
                    "auto_topup_product_id": self.product_hour.id,
                    "auto_topup_quantity": 701,
                }
            )
        self.contract.write(
            {"auto_topup_product_id": self.product_hour.id, "auto_topup_quantity": 700}
        )
