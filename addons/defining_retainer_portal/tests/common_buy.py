import json
import re

from odoo import Command

from .common import RetainerPortalCommon

LANDING_RE = re.compile(r'data-landing-route="([^"]+)"')
# The session's CSRF token as every page's script gives it: a closed
# retainer's page has no form to read it from.
SESSION_CSRF_RE = re.compile(r'csrf_token: "([^"]+)"')


class RetainerBuyCommon(RetainerPortalCommon):
    """A company selling retainer days and hours on the portal, with the
    demo payment provider enabled. The demo provider is a test dependency:
    the test tier installs ``payment_demo``; without it these tests fail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        demo = cls.env["ir.module.module"]._get("payment_demo")
        assert demo.state == "installed", (
            "payment_demo must be installed to test portal purchases"
        )
        cls.company = cls.retainer.company_id
        cls.company.retainer_portal_topup_mode = "buy"
        Product = cls.env["product.product"]
        values = {
            "type": "service",
            "invoice_policy": "order",
            "service_tracking": "no",
            "service_type": "manual",
            "taxes_id": [Command.clear()],
        }
        cls.product_day = Product.create(
            {
                **values,
                "name": "Portal retainer day",
                "retainer_units": 28,
                "list_price": 600.0,
                "retainer_portal_published": True,
            }
        )
        cls.product_hour = Product.create(
            {
                **values,
                "name": "Portal retainer hour",
                "retainer_units": 4,
                "list_price": 95.0,
                "retainer_portal_published": True,
            }
        )
        cls.product_unpublished = Product.create(
            {**values, "name": "Staff-only retainer week", "retainer_units": 140}
        )
        cls.product_plain = Product.create(
            {**values, "name": "Consulting hour", "list_price": 150.0}
        )
        cls.provider = cls.env.ref("payment.payment_provider_demo")
        cls.provider.write(
            {"state": "test", "is_published": True, "company_id": cls.company.id}
        )
        cls.payment_method = cls.env.ref("payment_demo.payment_method_demo")
        cls.portal_user.partner_id.email = "olivia@northwind.example"
        cls.env["ir.config_parameter"].sudo().set_param("sale.automatic_invoice", False)

    # === HELPERS === #

    def _set_customer_price(self, product, price):
        """Give the customer (and the portal user) a pricelist selling
        ``product`` at ``price``."""
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "Northwind prices",
                "currency_id": self.company.currency_id.id,
                "item_ids": [
                    Command.create(
                        {
                            "applied_on": "0_product_variant",
                            "product_id": product.id,
                            "compute_price": "fixed",
                            "fixed_price": price,
                        }
                    )
                ],
            }
        )
        self.customer.property_product_pricelist = pricelist
        self.portal_user.partner_id.property_product_pricelist = pricelist

    def _buy(self, retainer=None, **form):
        retainer = retainer or self.retainer
        page = self.url_open(self._detail_url(retainer)).text
        data = {"csrf_token": SESSION_CSRF_RE.search(page).group(1), **form}
        return self.url_open(self._detail_url(retainer, suffix="/buy"), data=data)

    def _orders(self, retainer=None):
        self.env.invalidate_all()
        return self.env["sale.order"].search(
            [("retainer_id", "=", (retainer or self.retainer).id)]
        )

    def _pay(self, order, simulated_state="done"):
        """Pay ``order`` as the browser does: open its portal page, start a
        transaction with the demo provider, let the provider report
        ``simulated_state`` and poll the status page (which post-processes
        the transaction). Returns the landing route the browser goes to."""
        page = self.url_open(order.get_portal_url())
        self.assertEqual(page.status_code, 200)
        landing = LANDING_RE.search(page.text)
        self.assertTrue(landing, "the quotation page has no payment form")
        landing_route = landing.group(1).replace("&amp;", "&")
        processing = self.make_jsonrpc_request(
            f"/my/orders/{order.id}/transaction",
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.payment_method.id,
                "token_id": None,
                "amount": order.amount_total,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": landing_route,
                "access_token": order._portal_ensure_token(),
            },
        )
        self.make_jsonrpc_request(
            "/payment/demo/simulate_payment",
            {
                "reference": processing["reference"],
                "payment_details": "4242",
                "simulated_state": simulated_state,
            },
        )
        status = self.make_jsonrpc_request("/payment/status/poll", {})
        self.assertEqual(status["landing_route"], landing_route)
        return landing_route

    def _transaction_request(self, order):
        """Ask Odoo's transaction route of ``order`` for a payment with the
        demo provider; returns the decoded JSON-RPC answer."""
        response = self.url_open(
            f"/my/orders/{order.id}/transaction",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {
                        "provider_id": self.provider.id,
                        "payment_method_id": self.payment_method.id,
                        "token_id": None,
                        "amount": order.amount_total,
                        "flow": "direct",
                        "tokenization_requested": False,
                        "landing_route": "/my",
                        "access_token": order._portal_ensure_token(),
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        return response.json()
