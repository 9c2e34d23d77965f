from odoo.tests import tagged

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalTopup(RetainerPortalCommon):
    """The "Request a top-up" form: valid requests reach the account manager
    (activity, chatter, draft quotation when a retainer product exists);
    invalid ones re-render the page with an error and write nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_retainer_products()

    @classmethod
    def _setup_retainer_products(cls):
        """Our own retainer products (28 units a day, 4 an hour), made the
        company's top-up products."""
        Product = cls.env["product.product"]
        values = {
            "type": "service",
            "invoice_policy": "order",
            "service_tracking": "no",
            "service_type": "manual",
            "list_price": 100.0,
        }
        cls.product_day = Product.create(
            {**values, "name": "Test retainer day", "retainer_units": 28}
        )
        cls.product_hour = Product.create(
            {**values, "name": "Test retainer hour", "retainer_units": 4}
        )
        cls.retainer.company_id.write(
            {
                "retainer_day_product_id": cls.product_day.id,
                "retainer_hour_product_id": cls.product_hour.id,
            }
        )

    def _post_topup(self, retainer=None, **form):
        retainer = retainer or self.retainer
        token = form.pop("access_token", None)
        page = self._detail_url(retainer, **({"access_token": token} if token else {}))
        data = {"csrf_token": self._csrf_token(page), **form}
        if token:
            data["access_token"] = token
        return self.url_open(self._detail_url(retainer, suffix="/topup"), data=data)

    def _state(self, retainer=None):
        retainer = retainer or self.retainer
        self.env.invalidate_all()
        return (
            self.env["sale.order"].search([("origin", "=", retainer.name)]),
            retainer.activity_ids,
            retainer.message_ids.filtered(lambda m: m.message_type == "comment"),
        )

    def test_request_topup(self):
        orders, activities, messages = self._state()
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self._post_topup(quantity="2", unit="day", note="Busy <b>month</b>")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.url.split("#")[0],
            self.base_url() + "/my/retainers/" + str(self.retainer.id),
        )
        self.assertIn("o_retainer_topup_done", response.text)

        new_orders, new_activities, new_messages = self._state()
        activity = new_activities - activities
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn("2", activity.summary)
        message = new_messages - messages
        self.assertEqual(len(message), 1)
        self.assertEqual(message.author_id, self.portal_user.partner_id)
        self.assertIn("56 units", message.body)
        # The customer's note is text, never markup.
        self.assertIn("Busy &lt;b&gt;month&lt;/b&gt;", message.body)

        order = new_orders - orders
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.partner_id, self.portal_user.partner_id)
        self.assertEqual(order.order_line.product_id, self.product_day)
        self.assertEqual(order.order_line.product_uom_qty, 2)
        self.assertIn(order.name, response.text)
        self.assertIn(f"/my/orders/{order.id}?access_token=", response.text)
        # The link opens the quotation on the sale portal.
        order_page = self.url_open(order.get_portal_url())
        self.assertEqual(order_page.status_code, 200)
        self.assertIn(order.name, order_page.text)
        # The confirmation is shown once.
        again = self.url_open(self._detail_url(self.retainer))
        self.assertNotIn("o_retainer_topup_done", again.text)

    def test_request_topup_in_the_conversation(self):
        """The request is a comment of the requester in the retainer's
        conversation: the customer reads it in the portal chatter, the
        account manager gets it as a follower (besides the activity)."""
        messages = self._state()[2]
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._post_topup(quantity="1", unit="day", note="For the audit")
        message = self._state()[2] - messages
        self.assertEqual(len(message), 1)
        self.assertEqual(message.author_id, self.portal_user.partner_id)
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))
        self.assertFalse(message.is_internal)
        self.assertFalse(message.subtype_id.internal)
        self.assertIn(self.manager.partner_id, message.notification_ids.res_partner_id)
        fetched = self.make_jsonrpc_request(
            "/mail/chatter_fetch",
            {"thread_model": "retainer.contract", "thread_id": self.retainer.id},
        )["data"]["mail.message"]
        self.assertIn(message.id, [item["id"] for item in fetched])
        self.assertIn("For the audit", str(fetched))

    def test_request_topup_in_hours(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        orders = self._state()[0]
        self._post_topup(quantity="6", unit="hour")
        order = self._state()[0] - orders
        self.assertEqual(order.order_line.product_id, self.product_hour)
        self.assertEqual(order.order_line.product_uom_qty, 6)

    def test_request_topup_announces_the_units_credited(self):
        """The units announced are those the quotation credits, rounded half
        up like the order line (a quarter of a 10-unit day is 2.5 units: 3,
        where Python's round() says 2)."""
        self.product_day.retainer_units = 10
        self.authenticate(self.portal_user.login, self.portal_user.login)
        orders, _activities, messages = self._state()
        self._post_topup(quantity="0.25", unit="day")
        new_orders, _activities, new_messages = self._state()
        message = new_messages - messages
        self.assertIn("(3 units)", message.body)
        order = new_orders - orders
        order.action_confirm()
        self.assertEqual(order.order_line.retainer_credited_units, 3)

    def test_request_topup_without_product(self):
        """No retainer product: the account manager still gets the activity
        and the chatter message, the customer a confirmation without link."""
        self.env["product.product"].search(
            [("retainer_units", ">", 0)]
        ).action_archive()
        orders, activities, messages = self._state()
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self._post_topup(quantity="1", unit="day")
        self.assertIn("o_retainer_topup_done", response.text)
        self.assertNotIn("o_retainer_topup_order", response.text)
        new_orders, new_activities, new_messages = self._state()
        self.assertEqual(new_orders, orders)
        self.assertEqual(len(new_activities - activities), 1)
        self.assertEqual(len(new_messages - messages), 1)

    def test_request_topup_share_link(self):
        """A visitor with the share link asks in the customer's name."""
        token = self.retainer._portal_ensure_token()
        messages = self._state()[2]
        response = self._post_topup(quantity="1", unit="day", access_token=token)
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_retainer_topup_done", response.text)
        self.assertIn(f"access_token={token}", response.url)
        message = self._state()[2] - messages
        self.assertEqual(message.author_id, self.customer)

    def test_request_topup_bad_input(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        before = self._state()
        for form, error in [
            ({"quantity": "abc", "unit": "day"}, "greater than zero"),
            ({"quantity": "", "unit": "day"}, "greater than zero"),
            ({"quantity": "-2", "unit": "day"}, "greater than zero"),
            ({"quantity": "0", "unit": "hour"}, "greater than zero"),
            ({"quantity": "nan", "unit": "day"}, "greater than zero"),
            ({"quantity": "inf", "unit": "day"}, "greater than zero"),
            ({"quantity": "101", "unit": "day"}, "at most 100"),
            ({"quantity": "1e9", "unit": "hour"}, "at most 700"),
            ({"quantity": "0.1", "unit": "day"}, "whole 15-minute units"),
            ({"quantity": "0.3", "unit": "hour"}, "whole 15-minute units"),
            ({"quantity": "2", "unit": "week"}, "days or hours"),
            ({"quantity": "2"}, "days or hours"),
            ({"quantity": "2", "unit": "day", "note": "x" * 1001}, "too long"),
        ]:
            with self.subTest(form=form):
                response = self._post_topup(**form)
                self.assertEqual(response.status_code, 200)
                self.assertIn("o_retainer_topup_error", response.text)
                self.assertIn(error, response.text)
                self.assertNotIn("o_retainer_topup_done", response.text)
        self.assertEqual(self._state(), before)

    def test_request_topup_closed_retainer(self):
        self.retainer.action_close()
        self.authenticate(self.portal_user.login, self.portal_user.login)
        before = self._state()
        page = self.url_open(self._detail_url(self.retainer))
        self.assertNotIn("o_retainer_topup_form", page.text)
        # The page has no form any more: any page's token of the session.
        response = self.url_open(
            self._detail_url(self.retainer, suffix="/topup"),
            data={
                "csrf_token": self._csrf_token("/my/security"),
                "quantity": "1",
                "unit": "day",
            },
        )
        self.assertIn("is closed", response.text)
        self.assertEqual(self._state(), before)
