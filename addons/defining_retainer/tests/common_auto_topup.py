from odoo import Command
from odoo.tests import new_test_user

from .common_sale import RetainerSaleCommon

CRON = "defining_retainer.ir_cron_retainer_auto_topup_charge"


class AutoTopupCommon(RetainerSaleCommon):
    """A retainer of 40 units whose automatic top-up orders 2 retainer days
    (56 units) at 28 units or fewer, time logged on it by a consultant
    without sales rights, and the demo payment provider of ``payment_demo``
    (which the test database must have: these tests fail without it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        demo = cls.env.ref("payment.payment_provider_demo").sudo()
        if (
            demo.code != "demo"
            or "demo_simulated_state" not in cls.env["payment.token"]._fields
        ):
            raise AssertionError(
                "The automatic top-up tests need the payment_demo module "
                "installed in the test database."
            )
        # The demo provider of the test company, as payment's own tests
        # prepare one (PaymentCommon._prepare_provider).
        cls.provider = demo.copy({"company_id": cls.company.id})
        cls.provider.write({"state": "test", "is_published": True})
        cls.customer.email = "accounts@acme-dental.example.com"
        cls.consultant = new_test_user(
            cls.env,
            login="retainer_auto_consultant",
            groups="hr_timesheet.group_hr_timesheet_user",
            name="Casey Consultant",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.env["hr.employee"].create(
            {
                "name": "Casey Consultant",
                "user_id": cls.consultant.id,
                "company_id": cls.company.id,
            }
        )
        cls.contract = cls._create_contract(
            units=40,
            user_id=cls.salesman.id,
            low_balance_units=0,
            auto_topup=True,
            auto_topup_threshold_units=28,
            auto_topup_product_id=cls.product_day.id,
            auto_topup_quantity=2,
        )
        cls.project = cls._create_project(cls.contract)
        cls.cron = cls.env.ref(CRON)

    # === HELPERS === #

    def _cross(self):
        """Log the time that crosses the threshold; return the one
        automatic top-up order it made."""
        self._log(3.0)  # 12 units: 28 left
        order = self._auto_orders()
        self.assertEqual(len(order), 1)
        return order

    def _transactions(self, order):
        return self.env["payment.transaction"].search(
            [("sale_order_ids", "in", order.ids)]
        )

    def _log(self, hours, contract=None):
        """A consultant's timesheet of ``hours`` on ``contract``'s project."""
        project = self.project
        if contract:
            project = self.env["project.project"].search(
                [("retainer_id", "=", contract.id)], limit=1
            ) or self._create_project(contract)
        employee = self.env["hr.employee"].search(
            [("user_id", "=", self.consultant.id)], limit=1
        )
        return (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .create(
                {
                    "project_id": project.id,
                    "employee_id": employee.id,
                    "name": "Support work",
                    "unit_amount": hours,
                }
            )
        )

    def _auto_orders(self, contract=None):
        return self.env["sale.order"].search(
            [
                ("retainer_id", "=", (contract or self.contract).id),
                ("retainer_topup_origin", "=", "auto"),
            ],
            order="id",
        )

    def _token(self, simulated_state, partner=None, provider=None):
        """A payment method saved by ``partner`` (the customer) with the
        demo provider, whose payments end in ``simulated_state``."""
        provider = provider or self.provider
        return (
            self.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": provider.payment_method_ids[:1].id,
                    "partner_id": (partner or self.customer).id,
                    "provider_ref": f"demo-{simulated_state}",
                    "payment_details": "4242",
                    "demo_simulated_state": simulated_state,
                }
            )
        )

    def _run_job(self):
        return self.env["sale.order"]._cron_retainer_auto_topups()

    def _messages(self, record, text):
        return self.env["mail.message"].search(
            [
                ("model", "=", record._name),
                ("res_id", "=", record.id),
                ("body", "ilike", text),
            ]
        )


class PaymentLifecycleCommon(AutoTopupCommon):
    """The demo provider captures manually: a payment is first authorized
    (a hold on the card), then captured or voided by staff, and a captured
    payment may be refunded."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider.capture_manually = True

    def _quotation(self, quantity=1):
        """A top-up quotation of ``quantity`` retainer days to pay online in
        full, as the portal's "Buy" makes it."""
        order = self.contract._create_topup_quotation(
            quantity,
            product=self.product_day,
            retainer_topup_origin="portal_buy",
            require_payment=True,
            require_signature=False,
            prepayment_percent=1.0,
        )
        order.action_quotation_sent()
        return order

    def _pay_online(self, order, simulated_state="done", amount=None):
        """The customer pays ``order`` (``amount``: all of it) on its portal
        page with the demo provider; returns the post-processed
        transaction."""
        tx = self._new_transaction(order, amount)
        tx._handle_notification_data(
            "demo",
            {
                "reference": tx.reference,
                "simulated_state": simulated_state,
                "payment_details": "4242",
            },
        )
        tx._post_process()
        return tx

    def _new_transaction(self, order, amount=None):
        # sudo: as the portal's transaction route creates it.
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.provider.id,
                    "payment_method_id": self.provider.payment_method_ids[:1].id,
                    "operation": "online_direct",
                    "amount": amount or order.amount_total,
                    "currency_id": order.currency_id.id,
                    "partner_id": order.partner_id.id,
                    "sale_order_ids": [Command.set(order.ids)],
                }
            )
        )

    def _capture(self, tx):
        tx._send_capture_request()
        tx._post_process()
        self.assertEqual(tx.state, "done")

    def _void(self, tx):
        tx._send_void_request()
        tx._post_process()
        self.assertEqual(tx.state, "cancel")

    def _refund_tx(self, tx, amount=None):
        refund = tx._send_refund_request(amount_to_refund=amount)
        refund._post_process()
        self.assertEqual(refund.state, "done")
        return refund

    def _activity(self, summary):
        return self.contract.activity_ids.filtered(lambda a: a.summary == summary)
