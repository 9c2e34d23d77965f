from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.payment.models.payment_transaction import PaymentTransaction

from .common_auto_topup import AutoTopupCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestAutoTopupOrders(AutoTopupCommon):
    """One order per crossing of the threshold, whoever posts."""

    def test_one_order_per_crossing_and_rearmed_above(self):
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()
        self._log(2.0)  # 8 units: 32 left, above the threshold
        self.assertFalse(self._auto_orders())
        self._log(1.0)  # 4 units: 28 left, at the threshold
        order = self._auto_orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(order.retainer_id, self.contract)
        self.assertEqual(order.partner_id, self.customer)
        self.assertEqual(order.order_line.product_id, self.product_day)
        self.assertEqual(order.order_line.product_uom_qty, 2)
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.retainer_auto_topup_state, "to_send")
        self.assertEqual(order.user_id, self.salesman, "the account manager")
        self.assertTrue(order.require_payment)
        self.assertFalse(order.require_signature)
        self.assertEqual(order.prepayment_percent, 1.0)
        self.assertTrue(self.contract.auto_topup_triggered)
        self.assertTrue(self._messages(self.contract, order.name))
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]),
            "the job is woken up",
        )
        # Further time below the threshold: no second order.
        self._log(1.0)
        self._log(3.0)
        self.assertEqual(len(self._auto_orders()), 1)
        # Back above the threshold (a manager's credit): re-armed.
        self.contract._post_manual_entry("credit", 20, "Goodwill")  # 32 left
        self.assertFalse(self.contract.auto_topup_triggered)
        self._log(1.0)  # 28: the next crossing orders again
        self.assertEqual(len(self._auto_orders()), 2)

    def test_a_batch_of_timesheets_orders_once(self):
        employee = self.env["hr.employee"].search(
            [("user_id", "=", self.consultant.id)], limit=1
        )
        self.env["account.analytic.line"].with_user(self.consultant).create(
            [
                {
                    "project_id": self.project.id,
                    "employee_id": employee.id,
                    "name": f"Incident {i}",
                    "unit_amount": 2.0,
                }
                for i in range(4)
            ]
        )
        self.assertEqual(self.contract.balance_units, 8)
        self.assertEqual(len(self._auto_orders()), 1)

    def test_off_or_not_active_orders_nothing(self):
        self.contract.auto_topup = False
        self._log(4.0)  # 24 left
        self.assertFalse(self._auto_orders())
        # Switched on below the threshold: the next posting orders.
        self.contract.auto_topup = True
        self._log(1.0)
        self.assertEqual(len(self._auto_orders()), 1)
        suspended = self._create_contract(
            units=40,
            low_balance_units=0,
            auto_topup=True,
            auto_topup_threshold_units=28,
            auto_topup_product_id=self.product_day.id,
            auto_topup_quantity=1,
        )
        suspended.action_suspend()
        suspended._post_manual_entry("adjustment", -20, "Correction")
        self.assertFalse(self._auto_orders(suspended))

    def test_expiry_job_crossing_orders(self):
        contract = self._create_contract(
            low_balance_units=0,
            rollover_max_units=0,
            auto_topup=True,
            auto_topup_threshold_units=28,
            auto_topup_product_id=self.product_hour.id,
            auto_topup_quantity=10,
        )
        today = self._today()
        contract._post_manual_entry(
            "credit", 28, "Block", date=today - timedelta(days=60), expiry_date=today
        )
        contract._post_manual_entry("credit", 8, "Undated")
        self.assertFalse(self._auto_orders(contract))
        with freeze_time(today + timedelta(days=1)):
            self.env["retainer.contract"]._retainer_expire_blocks()
        self.assertEqual(contract.balance_units, 8)
        order = self._auto_orders(contract)
        self.assertEqual(len(order), 1)
        self.assertEqual(order.order_line.product_id, self.product_hour)
        self.assertEqual(order.order_line.product_uom_qty, 10)

    def test_order_that_cannot_be_made_keeps_the_posting(self):
        self.product_day.action_archive()
        with mute_logger("odoo.addons.defining_retainer.models.retainer_contract_sale"):
            timesheet = self._log(3.0)  # 28 left
        self.assertEqual(timesheet.retainer_units, 12)
        self.assertEqual(self.contract.balance_units, 28)
        self.assertFalse(self._auto_orders())
        self.assertTrue(self.contract.auto_topup_triggered, "tried once")
        activity = self.contract.activity_ids.filtered(
            lambda a: a.summary == "Automatic top-up failed"
        )
        self.assertEqual(activity.user_id, self.salesman)
        self.assertIn("not a retainer product", activity.note)


@tagged("post_install", "-at_install", "defining_retainer")
class TestAutoTopupJob(AutoTopupCommon):
    """The scheduled job charges the saved payment method or sends the
    quotation to pay online, once per order."""

    def test_without_saved_method_the_quotation_is_sent(self):
        order = self._cross()
        self._run_job()
        self.assertEqual(order.state, "sent")
        self.assertEqual(order.retainer_auto_topup_state, "sent")
        self.assertFalse(self._transactions(order))
        mail = order.message_ids.filtered(lambda m: "Quotation" in (m.subject or ""))
        self.assertEqual(len(mail), 1)
        self.assertIn(self.customer, mail.partner_ids)
        self.assertIn(order.name, mail.subject)
        self.assertTrue(
            self.env["mail.mail"].search([("mail_message_id", "=", mail.id)]),
            "queued, not sent during the job's transaction",
        )
        self.assertEqual(self._balance(self.contract), 28, "nothing credited yet")
        self._run_job()
        self.assertEqual(
            len(order.message_ids.filtered(lambda m: "Quotation" in (m.subject or ""))),
            1,
            "sent once",
        )

    def test_saved_method_is_charged_and_the_order_confirmed(self):
        token = self._token("done")
        self.contract.auto_topup_token_id = token
        order = self._cross()
        self.assertEqual(order.retainer_auto_topup_state, "to_charge")
        self.assertEqual(order.state, "draft", "nothing charged during the posting")
        self.assertFalse(self._transactions(order))
        self._run_job()
        tx = self._transactions(order)
        self.assertEqual(len(tx), 1)
        self.assertRecordValues(
            tx,
            [
                {
                    "state": "done",
                    "operation": "offline",
                    "token_id": token.id,
                    "amount": order.amount_total,
                    "currency_id": order.currency_id.id,
                }
            ],
        )
        self.assertTrue(tx.payment_id, "the payment is recorded")
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.retainer_auto_topup_state, "charged")
        # Credited on confirmation (the company's credit trigger), which
        # re-arms the automatic top-up.
        self.assertEqual(self._balance(self.contract), 28 + 56)
        self.assertFalse(self.contract.auto_topup_triggered)
        self._run_job()
        self.assertEqual(len(self._transactions(order)), 1, "charged once")

    def test_failed_charge_sends_the_quotation_once(self):
        self.contract.auto_topup_token_id = self._token("error")
        order = self._cross()
        self.assertEqual(order.retainer_auto_topup_state, "to_charge")
        self._run_job()
        tx = self._transactions(order)
        self.assertEqual(tx.state, "error")
        self.assertEqual(order.state, "sent")
        self.assertEqual(order.retainer_auto_topup_state, "sent")
        self.assertTrue(self._messages(order, "automatic charge of"))
        self.assertTrue(self._messages(order, "failed"))
        self.assertTrue(
            order.message_ids.filtered(lambda m: "Quotation" in (m.subject or "")),
            "sent to pay online",
        )
        activity = self.contract.activity_ids.filtered(
            lambda a: a.summary == "Automatic top-up not charged"
        )
        self.assertEqual(activity.user_id, self.salesman)
        self.assertIn(order.name, activity.note)
        self.assertEqual(self._balance(self.contract), 28)
        self._run_job()
        self.assertEqual(len(self._transactions(order)), 1, "never retried")

    def test_archived_saved_method_sends_the_quotation(self):
        token = self._token("done")
        self.contract.auto_topup_token_id = token
        order = self._cross()
        token.active = False
        self._run_job()
        self.assertFalse(self._transactions(order))
        self.assertEqual(order.state, "sent")
        self.assertEqual(order.retainer_auto_topup_state, "sent")
        self.assertTrue(self._messages(order, "archived token"))

    def test_charge_ending_in_an_unknown_error_is_left_to_check(self):
        self.contract.auto_topup_token_id = self._token("done")
        order = self._cross()
        with (
            patch.object(
                PaymentTransaction,
                "_send_payment_request",
                side_effect=RuntimeError("connection reset"),
            ),
            mute_logger("odoo.addons.defining_retainer.models.sale_order"),
        ):
            self._run_job()
        tx = self._transactions(order)
        self.assertEqual(tx.state, "draft", "left for the provider's notification")
        self.assertEqual(order.state, "draft", "never offered to pay twice")
        self.assertEqual(order.retainer_auto_topup_state, "charged")
        activity = self.contract.activity_ids.filtered(
            lambda a: a.summary == "Automatic top-up to check"
        )
        self.assertIn("connection reset", activity.note)
        self._run_job()
        self.assertEqual(len(self._transactions(order)), 1, "never retried")

    def test_saved_method_removed_before_the_job_sends_instead(self):
        self.contract.auto_topup_token_id = self._token("done")
        order = self._cross()
        self.contract.auto_topup_token_id = False
        self._run_job()
        self.assertFalse(self._transactions(order))
        self.assertEqual(order.retainer_auto_topup_state, "sent")

    def test_confirmed_by_hand_before_the_job_is_not_charged(self):
        self.contract.auto_topup_token_id = self._token("done")
        order = self._cross()
        order.action_confirm()
        self.assertFalse(order.retainer_auto_topup_state)
        self._run_job()
        self.assertFalse(self._transactions(order))


@tagged("post_install", "-at_install", "defining_retainer")
class TestAutoTopupSettings(AutoTopupCommon):
    """Refused settings, with a message, and nothing written."""

    def test_refused_settings(self):
        other_company = self.env["res.company"].create({"name": "Elsewhere Ltd"})
        other_product = self._create_product(
            name="Other company day",
            retainer_units=28,
            type="service",
            service_tracking="no",
            invoice_policy="order",
            service_type="manual",
            company_id=other_company.id,
        )
        other_provider = self.provider.copy({"company_id": other_company.id})
        contract = self._create_contract(units=40, low_balance_units=0)
        for vals, message in (
            ({"auto_topup_threshold_units": -1}, "threshold cannot be negative"),
            ({"auto_topup_quantity": -1}, "quantity greater than zero"),
            (
                {"auto_topup": True, "auto_topup_product_id": self.product_day.id},
                "quantity greater than zero",
            ),
            ({"auto_topup": True, "auto_topup_quantity": 2}, "choose the product"),
            (
                {"auto_topup_product_id": self.product_consulting.id},
                "Test consulting is not a retainer product of",
            ),
            (
                {"auto_topup_product_id": other_product.id},
                "is not a retainer product of",
            ),
            (
                {"auto_topup_token_id": self._token("done", self.partner_a).id},
                "is not one of Acme Dental Test",
            ),
            (
                {
                    "auto_topup_token_id": self._token(
                        "done", provider=other_provider
                    ).id
                },
                "is not one of Acme Dental Test",
            ),
        ):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(ValidationError, message),
            ):
                contract.write(vals)
            contract.invalidate_recordset()
            self.assertRecordValues(
                contract,
                [
                    {
                        "auto_topup": False,
                        "auto_topup_threshold_units": 0,
                        "auto_topup_quantity": 0.0,
                        "auto_topup_product_id": False,
                        "auto_topup_token_id": False,
                    }
                ],
            )
        # Only retainer managers change them.
        with self.assertRaisesRegex(
            AccessError, r"not allowed to modify .*\(retainer\.contract\)"
        ):
            contract.with_user(self.salesman).auto_topup_quantity = 1
        # A contact's saved method is the customer's.
        token = self._token("done", self.customer_contact)
        contract.write(
            {
                "auto_topup": True,
                "auto_topup_product_id": self.product_day.id,
                "auto_topup_quantity": 1,
                "auto_topup_token_id": token.id,
            }
        )
        self.assertEqual(contract.auto_topup_token_id, token)
