from datetime import timedelta

from odoo import Command, fields
from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser
from odoo.tools import file_path, format_date, mute_logger
from odoo.tools.translate import TranslationImporter

from odoo.addons.defining_retainer.tests.screenshots import SIZES, ScreenshotMixin

from .common_buy import LANDING_RE, RetainerBuyCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalBuy(RetainerBuyCommon):
    def test_buy_form_offers(self):
        """The retainer page offers the published retainer products with
        their price, units, hours and quantity bounds, instead of the
        request form."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer)).text
        self.assertIn("o_retainer_buy_form", page)
        self.assertNotIn("o_retainer_topup_form", page)
        self.assertIn("Portal retainer day", page)
        self.assertIn("Portal retainer hour", page)
        self.assertNotIn("Staff-only retainer week", page)
        self.assertNotIn("Consulting hour", page)
        self.assertIn("28 units (7 h)", page)
        self.assertIn("4 units (1 h)", page)
        self.assertNotIn("07:00", page)
        self.assertIn("600.00", page)
        # The form's limits are the server's: 100 days, or 700 hours.
        offers = {o["product"]: o for o in self.retainer._portal_buy_offers()}
        self.assertEqual(offers[self.product_day]["max_quantity"], 100)
        self.assertEqual(offers[self.product_hour]["max_quantity"], 700)
        self.assertIn('max="100"', page)
        self.assertIn('max="700"', page)

    def test_buy_offer_prices_follow_the_pricelist(self):
        self._set_customer_price(self.product_day, 540.0)
        offers = {o["product"]: o for o in self.retainer._portal_buy_offers()}
        self.assertEqual(offers[self.product_day]["price_subtotal"], 540.0)
        self.assertEqual(offers[self.product_hour]["price_subtotal"], 95.0)

    def _confirmed_order(self, days=2):
        """An order of ``days`` retainer days for the customer's retainer,
        confirmed: its units are credited at once."""
        self.company.retainer_credit_trigger = "confirm"
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "retainer_id": self.retainer.id,
                "order_line": [
                    Command.create(
                        {"product_id": self.product_day.id, "product_uom_qty": days}
                    )
                ],
            }
        )
        order.action_confirm()
        return order

    def test_confirmed_order_page_says_what_it_delivered(self):
        """The customer's confirmed order says what it delivered to which
        retainer, and leads to it."""
        order = self._confirmed_order()
        self.assertEqual(order.order_line.retainer_credited_units, 56)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(order.get_portal_url()).text
        text = " ".join(page.split())
        today = format_date(self.env, fields.Date.context_today(order))
        self.assertIn(
            f"Delivered: 56 units, 14 h credited on {today} to "
            f'<a class="o_retainer_quotation_link" href="{self.retainer.access_url}"',
            text,
        )
        self.assertNotIn("Adds 56 units", text)

    def test_pages_in_french(self):
        """With the addons' French translations, the customer's order and
        retainer pages read in French, the delivered units in one sentence."""
        self.env["res.lang"]._activate_lang("fr_FR")
        importer = TranslationImporter(self.env.cr, verbose=False)
        for module in ("defining_retainer", "defining_retainer_portal"):
            importer.load_file(file_path(f"{module}/i18n/fr.po"), "fr_FR")
        importer.save(force_overwrite=True)
        self.portal_user.partner_id.lang = "fr_FR"
        order = self._confirmed_order()
        self.authenticate(self.portal_user.login, self.portal_user.login)
        text = " ".join(self.url_open(order.get_portal_url()).text.split())
        self.assertIn("Livré : 56 unités, 14 h créditées le", text)
        self.assertNotIn("Delivered", text)
        page = self.url_open(self._detail_url(self.retainer)).text
        self.assertIn("Acheter plus de temps", page)
        self.assertNotIn("Buy more time", page)
        # A sentence with values is one term: the translation keeps and
        # reorders its values.
        page_text = " ".join(page.split())
        self.assertIn("(une unité dure 15 minutes, une journée 7 h)", page_text)
        self.assertNotIn("one unit is", page_text)

    def test_buy_makes_a_quotation_to_pay_online(self):
        balance = self.retainer.balance_units
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self._buy(product_id=self.product_day.id, quantity="2")
        order = self._orders().filtered(
            lambda o: o.retainer_topup_origin == "portal_buy"
        )
        self.assertEqual(len(order), 1)
        self.assertIn(f"/my/orders/{order.id}", response.url)
        self.assertEqual(order.partner_id, self.portal_user.partner_id)
        self.assertEqual(order.retainer_id, self.retainer)
        self.assertEqual(order.state, "sent")
        self.assertTrue(order.require_payment)
        self.assertFalse(order.require_signature)
        self.assertEqual(order.prepayment_percent, 1.0)
        self.assertEqual(order.order_line.product_id, self.product_day)
        self.assertEqual(order.order_line.product_uom_qty, 2)
        self.assertEqual(order.amount_untaxed, 1200.0)
        self.assertEqual(order.user_id, self.manager)
        self.assertEqual(self.retainer.balance_units, balance, "nothing credited yet")
        # The quotation page takes the payment and brings the customer back
        # to the retainer.
        self.assertIn("o_sale_portal_paynow", response.text)
        self.assertIn(
            f'data-landing-route="/my/retainers/{self.retainer.id}?purchase={order.id}"',
            response.text,
        )
        # It names the retainer and the units the line adds, and links to it.
        self.assertIn("Adds 56 units, 14 h to your retainer", response.text)
        link = f'href="/my/retainers/{self.retainer.id}"'
        self.assertIn(f'class="o_retainer_quotation_link" {link}', response.text)

    def _landing_route(self, order):
        """The landing route of the payment form of ``order``'s portal page,
        opened with the order's own link."""
        page = self.url_open(order.get_portal_url())
        self.assertEqual(page.status_code, 200)
        landing = LANDING_RE.search(page.text)
        self.assertTrue(landing, "the quotation page has no payment form")
        return page, landing.group(1).replace("&amp;", "&")

    def test_quotation_page_hands_out_no_retainer_token(self):
        """Paying a quotation brings the logged-in customer back to the
        retainer through their own access: the order page never creates nor
        embeds the retainer's share token, so whoever holds only the
        quotation's link (accounts payable, an automatic top-up quotation)
        lands back on the quotation, not on the retainer."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._buy(product_id=self.product_day.id, quantity="1")
        order = self._orders()
        # The note of the purchase may have given the retainer a token for
        # its followers' emails: start from a retainer without one.
        self.retainer.access_token = False
        _page, landing = self._landing_route(order)
        self.assertEqual(
            landing, f"/my/retainers/{self.retainer.id}?purchase={order.id}"
        )
        self.env.invalidate_all()
        self.assertFalse(self.retainer.access_token, "rendering made a token")
        # A visitor holding only the quotation's link, the retainer having a
        # share token of its own (an email sent to its contacts).
        retainer_token = self.retainer._portal_ensure_token()
        auto_order = self.retainer._create_topup_quotation(
            1,
            product=self.product_day,
            retainer_topup_origin="auto",
            require_signature=False,
            require_payment=True,
            prepayment_percent=1.0,
        )
        auto_order.action_quotation_sent()
        self.authenticate(None, None)
        for quotation in (order, auto_order):
            with self.subTest(order=quotation.name):
                page, landing = self._landing_route(quotation)
                self.assertTrue(
                    landing.startswith(f"/my/orders/{quotation.id}?"), landing
                )
                self.assertNotIn(retainer_token, page.text)
                self.assertNotIn(f"/my/retainers/{self.retainer.id}", page.text)
                # Where the payment lands shows nothing of the retainer.
                landed = self.url_open(landing)
                self.assertIn(f"/my/orders/{quotation.id}", landed.url)
                self.assertNotIn("o_retainer_buy_form", landed.text)
                self.assertNotIn("Server recovery after power cut", landed.text)

    def test_second_click_reuses_the_open_quotation(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._buy(product_id=self.product_day.id, quantity="2")
        self._buy(product_id=self.product_hour.id, quantity="3")
        order = self._orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(order.order_line.product_id, self.product_hour)
        self.assertEqual(order.order_line.product_uom_qty, 3)
        # While a payment is under way, the quotation is left as it is.
        self.env["payment.transaction"].sudo().create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.payment_method.id,
                "amount": order.amount_total,
                "currency_id": order.currency_id.id,
                "partner_id": self.portal_user.partner_id.id,
                "sale_order_ids": [Command.set(order.ids)],
                "state": "pending",
            }
        )
        response = self._buy(product_id=self.product_day.id, quantity="1")
        self.assertIn(f"/my/orders/{order.id}", response.url)
        self.assertEqual(self._orders(), order)
        self.assertEqual(order.order_line.product_id, self.product_hour)

    def test_expired_quotation_is_not_reused_nor_payable(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._buy(product_id=self.product_day.id, quantity="1")
        expired = self._orders()
        expired.validity_date = fields.Date.today() - timedelta(days=1)
        self.assertFalse(expired._has_to_be_paid())
        self._buy(product_id=self.product_day.id, quantity="1")
        orders = self._orders()
        self.assertEqual(len(orders), 2)
        self.assertTrue((orders - expired)._has_to_be_paid())
        self.assertEqual(
            expired.state, "sent", "an abandoned quotation credits nothing"
        )
        # Nor through Odoo's transaction route, called directly: refused
        # before a transaction is made.
        answer = self._transaction_request(expired)
        self.assertIn("expired", answer["error"]["data"]["message"])
        self.assertFalse(
            self.env["payment.transaction"]
            .sudo()
            .search([("sale_order_ids", "in", expired.ids)])
        )
        self.env.invalidate_all()
        self.assertEqual(expired.state, "sent")

    def test_authorized_purchase_credits_when_captured(self):
        """With a provider that captures manually, the payment is first a
        hold on the card: Odoo confirms the order, but the units wait for
        the capture; a voided hold cancels the order."""
        self.provider.capture_manually = True
        self.authenticate(self.portal_user.login, self.portal_user.login)
        balance = self.retainer.balance_units
        self._buy(product_id=self.product_day.id, quantity="1")
        order = self._orders()
        self._pay(order)
        self.env.invalidate_all()
        tx = order.transaction_ids
        self.assertEqual(tx.state, "authorized")
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.retainer.balance_units, balance)
        tx._send_capture_request()
        tx._post_process()
        self.env.invalidate_all()
        self.assertEqual(self.retainer.balance_units, balance + 28)
        self.assertIn(order.invoice_ids.payment_state, ("paid", "in_payment"))

        orders = self._orders()
        self._buy(product_id=self.product_day.id, quantity="1")
        voided = self._orders() - orders
        self._pay(voided)
        self.env.invalidate_all()
        self.assertEqual(voided.state, "sale")
        voided.transaction_ids._send_void_request()
        voided.transaction_ids._post_process()
        self.env.invalidate_all()
        self.assertEqual(voided.state, "cancel")
        self.assertEqual(self.retainer.balance_units, balance + 28)

    def test_paid_purchase_credits_at_once_whatever_the_trigger(self):
        """Paid online, the order is confirmed and invoiced; the retainer is
        credited at once with each credit trigger, and the customer lands
        back on the retainer page with the new balance."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for trigger in ("confirm", "posted", "paid"):
            with self.subTest(trigger=trigger):
                self.company.retainer_credit_trigger = trigger
                balance = self.retainer.balance_units
                orders = self._orders()
                self._buy(product_id=self.product_day.id, quantity="1")
                order = self._orders() - orders
                mails = self.env["mail.mail"].search([])
                landing = self._pay(order)
                self.env.invalidate_all()
                self.assertEqual(order.state, "sale")
                self.assertEqual(order.retainer_credit_trigger, trigger)
                self.assertEqual(self.retainer.balance_units, balance + 28)
                invoice = order.invoice_ids
                self.assertEqual(invoice.state, "posted")
                self.assertIn(invoice.payment_state, ("paid", "in_payment"))
                credit = self.retainer.ledger_entry_ids.filtered(
                    lambda e, order=order: e.sale_line_id.order_id == order
                )
                self.assertEqual(credit.units, 28)
                self.assertEqual(credit.topup_origin, "portal_buy")
                # The order confirmation email goes to the customer.
                confirmation = self.env["mail.mail"].search([]) - mails
                self.assertTrue(
                    confirmation.filtered(
                        lambda m, order=order: (
                            order.name in (m.subject or "")
                            and self.portal_user.partner_id in m.recipient_ids
                        )
                    )
                )
                page = self.url_open(landing)
                self.assertIn(f"/my/retainers/{self.retainer.id}", page.url)
                self.assertIn("o_retainer_purchase_paid", page.text)
                self.assertIn(f"{self.retainer.balance_units}", page.text)

    def test_failed_payment_changes_nothing(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        balance = self.retainer.balance_units
        self._buy(product_id=self.product_day.id, quantity="1")
        order = self._orders()
        landing = self._pay(order, simulated_state="error")
        self.env.invalidate_all()
        self.assertEqual(order.state, "sent")
        self.assertFalse(order.invoice_ids)
        self.assertEqual(self.retainer.balance_units, balance)
        page = self.url_open(landing)
        self.assertIn("o_retainer_purchase_failed", page.text)
        self.assertIn("Your payment did not go through.", page.text)
        self.assertNotIn("o_retainer_purchase_paid", page.text)

    def test_payment_notified_twice_credits_once(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        balance = self.retainer.balance_units
        self._buy(product_id=self.product_day.id, quantity="1")
        order = self._orders()
        self._pay(order)
        tx = order.transaction_ids
        # The provider retries its notification; the post-processing runs
        # again (the scheduled job, another node).
        with mute_logger("odoo.addons.payment.models.payment_transaction"):
            tx._handle_notification_data(
                "demo", {"reference": tx.reference, "simulated_state": "done"}
            )
        tx._post_process()
        self.env.invalidate_all()
        self.assertEqual(self.retainer.balance_units, balance + 28)
        self.assertEqual(len(order.invoice_ids), 1)
        self.assertEqual(
            len(
                self.retainer.ledger_entry_ids.filtered(
                    lambda e: e.sale_line_id.order_id == order
                )
            ),
            1,
        )

    def test_landing_shows_only_this_retainers_purchase(self):
        """The purchase shown on a retainer page must be one of its own."""
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        self._buy(
            retainer=self.other_retainer, product_id=self.product_day.id, quantity="1"
        )
        other_order = self._orders(self.other_retainer)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(
            self._detail_url(self.retainer, purchase=other_order.id)
        ).text
        self.assertNotIn(other_order.name, page)


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalBuyRefusals(RetainerBuyCommon):
    """Each refused purchase re-renders the page with its message and
    creates no order."""

    def assertBuyRefused(self, message, retainer=None, **form):
        retainer = retainer or self.retainer
        orders = self._orders(retainer)
        response = self._buy(retainer=retainer, **form)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(
            "o_retainer_buy_error" in response.text and message in response.text,
            f"the page does not say {message!r}",
        )
        self.assertEqual(self._orders(retainer), orders)

    def test_buy_list_is_what_this_customer_may_buy(self):
        """Only the retainer's company's saleable products, at the
        customer's pricelist price, a dozen at most; a product of another
        company is neither offered nor sold."""
        other_company = self.env["res.company"].create({"name": "Other firm"})
        Product = self.env["product.product"]
        values = {
            "type": "service",
            "retainer_units": 8,
            "retainer_portal_published": True,
            "list_price": 150.0,
        }
        foreign = Product.create(
            {**values, "name": "Other firm's retainer", "company_id": other_company.id}
        )
        unsaleable = Product.create(
            {**values, "name": "Retired retainer pack", "sale_ok": False}
        )
        self._set_customer_price(self.product_day, 512.5)
        offered = self.retainer._portal_buy_products()
        self.assertIn(self.product_day, offered)
        self.assertNotIn(foreign, offered)
        self.assertNotIn(unsaleable, offered)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer)).text
        for text, shown in (
            ("512.50", True),
            ("600.00", False),  # the list price
            ("Other firm's retainer", False),
            ("Retired retainer pack", False),
        ):
            self.assertEqual(text in page, shown, text)
        self.assertBuyRefused(
            "This product cannot be bought on the portal.",
            product_id=foreign.id,
            quantity="1",
        )
        Product.create([{**values, "name": f"Retainer pack {n}"} for n in range(15)])
        self.assertEqual(len(self.retainer._portal_buy_products()), 12)

    def test_tampered_products(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        refused = "This product cannot be bought on the portal."
        for product in (self.product_unpublished, self.product_plain):
            with self.subTest(product=product.name):
                self.assertBuyRefused(refused, product_id=product.id, quantity="1")
        self.assertBuyRefused(refused, product_id="999999", quantity="1")
        self.assertBuyRefused(refused, product_id="abc", quantity="1")

    def test_quantity_out_of_bounds(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for quantity in ("0", "-1", "2.5", "101", "1e9", "nan", ""):
            with self.subTest(quantity=quantity):
                self.assertBuyRefused(
                    "Choose a whole quantity from 1 to 100.",
                    product_id=self.product_day.id,
                    quantity=quantity,
                )
        # 700 hours is the hour product's limit: accepted.
        self._buy(product_id=self.product_hour.id, quantity="700")
        self.assertEqual(self._orders().order_line.product_uom_qty, 700)

    def test_closed_or_suspended_retainer(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for state, word in (("suspended", "suspended"), ("closed", "closed")):
            with self.subTest(state=state):
                self.retainer._set_state(state)
                self.assertBuyRefused(
                    f"This retainer is {word}: please contact your account manager.",
                    product_id=self.product_day.id,
                    quantity="1",
                )

    def test_no_payment_provider_falls_back_to_a_request(self):
        self.provider.state = "disabled"
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer)).text
        self.assertNotIn("o_retainer_buy_form", page)
        self.assertIn("o_retainer_topup_form", page)
        self.assertIn("Online payment is not available", page)
        orders = self._orders()
        response = self._buy(product_id=self.product_day.id, quantity="1")
        self.assertIn(
            "Online payment is not available: request the top-up", response.text
        )
        self.assertEqual(self._orders(), orders)

    def test_request_mode_refuses_purchases(self):
        self.company.retainer_portal_topup_mode = "request"
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer)).text
        self.assertNotIn("o_retainer_buy_form", page)
        orders = self._orders()
        response = self._buy(product_id=self.product_day.id, quantity="1")
        self.assertIn(
            "Top-ups cannot be bought online for this retainer", response.text
        )
        self.assertEqual(self._orders(), orders)

    def test_no_buying_onto_someone_elses_retainer(self):
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        # The other customer's CSRF token, posted to our retainer.
        token = self._csrf_token(self._detail_url(self.other_retainer))
        orders = self._orders()
        response = self.url_open(
            self._detail_url(self.retainer, suffix="/buy"),
            data={
                "csrf_token": token,
                "product_id": self.product_day.id,
                "quantity": "1",
            },
        )
        self.assertRefused(response, self.retainer.name)
        self.assertEqual(self._orders(), orders)

    def test_hourly_limit(self):
        """At most N new portal purchases or requests per retainer per hour:
        the next one is refused, the counted ones are not reused (paid or
        cancelled)."""
        self.company.retainer_portal_topup_hourly_limit = 2
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._buy(product_id=self.product_day.id, quantity="1")
        self._orders()._action_cancel()
        self.company.retainer_portal_topup_mode = "request"
        self.company.retainer_day_product_id = self.product_day
        page = self._detail_url(self.retainer)
        self.url_open(
            self._detail_url(self.retainer, suffix="/topup"),
            data={"csrf_token": self._csrf_token(page), "quantity": "1", "unit": "day"},
        )
        self.assertEqual(len(self._orders()), 2)
        self.company.retainer_portal_topup_mode = "buy"
        self.assertBuyRefused(
            "This retainer already made 2 top-up requests or purchases in the "
            "last hour",
            product_id=self.product_day.id,
            quantity="1",
        )
        self.company.retainer_portal_topup_mode = "request"
        orders = self._orders()
        response = self.url_open(
            self._detail_url(self.retainer, suffix="/topup"),
            data={"csrf_token": self._csrf_token(page), "quantity": "1", "unit": "day"},
        )
        self.assertIn("already made 2 top-up requests or purchases", response.text)
        self.assertEqual(self._orders(), orders)

    def test_settings_refusals(self):
        with (
            self.assertRaisesRegex(
                Exception, "must allow at least one portal top-up per hour"
            ),
            self.env.cr.savepoint(),
        ):
            self.company.retainer_portal_topup_hourly_limit = 0
        with (
            self.assertRaisesRegex(
                Exception, "Only retainer products can be sold on the portal"
            ),
            self.env.cr.savepoint(),
        ):
            self.product_plain.retainer_portal_published = True
        self.assertFalse(self.product_plain.retainer_portal_published)


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalBuyTour(RetainerBuyCommon):
    """A customer in a real browser buys one day and pays with the demo
    provider: with the successful card the retainer page shows 28 more
    units; with the failing one the balance is unchanged and the page says
    why."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The demo provider is the only way to pay: its form opens at once.
        cls.env["payment.provider"].search(
            [("id", "!=", cls.provider.id), ("state", "!=", "disabled")]
        ).state = "disabled"

    def test_buy_tour_paid(self):
        self.assertEqual(self.retainer.balance_units, 40)
        self.start_tour(
            self._detail_url(self.retainer),
            "defining_retainer_portal_buy_tour",
            login=self.portal_user.login,
        )
        self.env.invalidate_all()
        self.assertEqual(self.retainer.balance_units, 68)
        order = self._orders()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.transaction_ids.state, "done")

    def test_buy_tour_failed(self):
        self.start_tour(
            self._detail_url(self.retainer),
            "defining_retainer_portal_buy_failed_tour",
            login=self.portal_user.login,
        )
        self.env.invalidate_all()
        self.assertEqual(self.retainer.balance_units, 40)
        order = self._orders()
        self.assertEqual(order.state, "sent")
        self.assertEqual(order.transaction_ids.state, "error")


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalBuyScreenshots(ScreenshotMixin, RetainerBuyCommon):
    """The buy form and Odoo's payment dialog, in headless Chromium (written
    to ``$RETAINER_SCREENSHOTS_DIR`` when set, for the README)."""

    def test_buy_screenshots(self):
        # Sold in retainer days, as the module's own products are.
        day = self.env.ref("defining_retainer.uom_retainer_day")
        self.product_day.write({"uom_id": day.id, "uom_po_id": day.id})
        width, height, mobile = SIZES["desktop"]
        browser = ChromeBrowser(self)
        try:
            self.authenticate(
                self.portal_user.login, self.portal_user.login, browser=browser
            )
            order = (
                self.retainer.with_user(self.portal_user)
                .sudo()
                ._portal_buy(self.product_day, 2, self.portal_user.partner_id)
            )
            self.cr.flush()
            png = self._capture(
                browser, self._detail_url(self.retainer), width, height, mobile
            )
            self._check_and_save(png, "retainer_buy_desktop", width, height)
            # The quotation made by "Buy": the units it adds to the retainer.
            png = self._capture(browser, order.get_portal_url(), width, height, mobile)
            self._check_and_save(png, "retainer_quotation_desktop", width, height)
            png = self._capture(
                browser,
                order.get_portal_url(),
                width,
                height,
                mobile,
                script="document.querySelector('#o_sale_portal_paynow').click()",
            )
            self._check_and_save(png, "retainer_pay_desktop", width, height)
        finally:
            browser.stop()
            self._wait_remaining_requests()


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalPurchaseModel(RetainerBuyCommon):
    """What the portal's controllers ask the retainer about a purchase: who
    orders and pays it, and which order a payment comes back from."""

    def test_payer_is_one_of_the_customers_contacts(self):
        retainer = self.retainer
        contact = self.portal_user.partner_id
        self.assertEqual(retainer._portal_payer(contact), contact)
        self.assertEqual(retainer._portal_payer(None), retainer.partner_id)
        self.assertEqual(
            retainer._portal_payer(self.other_portal_user.partner_id),
            retainer.partner_id,
        )

    def test_purchase_is_one_of_the_retainers_own(self):
        retainer_sudo = self.retainer.sudo()
        own = retainer_sudo._portal_buy(
            self.product_day, 2, requester=self.portal_user.partner_id
        )
        other = self.other_retainer.sudo()._portal_buy(
            self.product_day, 1, requester=self.other_portal_user.partner_id
        )
        self.assertEqual(own.partner_id, self.portal_user.partner_id)
        self.assertEqual(retainer_sudo._portal_purchase(own.id), own)
        self.assertFalse(retainer_sudo._portal_purchase(other.id))
        self.assertTrue(retainer_sudo._portal_is_paid_online(own))
        self.assertFalse(retainer_sudo._portal_is_paid_online(other))
        values = retainer_sudo._portal_purchase_values(own.id)
        self.assertEqual(values["purchase"], own)
        self.assertEqual(values["purchase_units"], 56)
        self.assertFalse(values["purchase_tx"])
        self.assertFalse(retainer_sudo._portal_purchase_values(other.id)["purchase"])
