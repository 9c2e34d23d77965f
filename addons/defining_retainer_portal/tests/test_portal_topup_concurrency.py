from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.defining_retainer.tests.race import ConcurrentClientsMixin

CLIENTS = 4
HOURLY_LIMIT = 2
COMPANY_SETTINGS = ("retainer_portal_topup_mode", "retainer_portal_topup_hourly_limit")


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalTopupConcurrency(ConcurrentClientsMixin, TransactionCase):
    """Several clicks on *Buy* or *Request* for one retainer at the same
    moment, each in its own transaction (browser tabs served by several
    workers or nodes), all having read the retainer's orders before any of
    them writes: the open quotation is reused and the hourly limit holds, as
    for clicks one after the other."""

    def setUp(self):
        super().setUp()
        # Real, separate connections: the fixtures must be committed.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.company
            self.saved_settings = {fname: company[fname] for fname in COMPANY_SETTINGS}
            company.write(
                {
                    "retainer_portal_topup_mode": "buy",
                    "retainer_portal_topup_hourly_limit": HOURLY_LIMIT,
                }
            )
            partner = env["res.partner"].create(
                {"name": "Portal Race Ltd", "is_company": True}
            )
            level = env["retainer.level"].create({"name": "Portal race level"})
            product = env["product.product"].create(
                {
                    "name": "Portal race day",
                    "type": "service",
                    "service_tracking": "no",
                    "service_type": "manual",
                    "invoice_policy": "order",
                    "list_price": 600.0,
                    "retainer_units": 28,
                    "retainer_portal_published": True,
                }
            )
            # No account manager to schedule activities for, and the customer
            # already follows it, as after a first request: what is raced is
            # the limit, not a new follower's subscription.
            contract = env["retainer.contract"].create(
                {"partner_id": partner.id, "level_id": level.id, "user_id": False}
            )
            contract.message_subscribe(partner_ids=partner.ids)
            self.ids = {
                "company": company.id,
                "partner": partner.id,
                "level": level.id,
                "product": product.id,
                "contract": contract.id,
            }
        self.addCleanup(self._drop_fixtures)
        # Online payment is not what is raced here: no provider needed.
        Contract = type(self.env["retainer.contract"])
        patcher = patch.object(
            Contract, "_portal_can_pay_online", lambda self, partner=None: True
        )
        patcher.start()
        self.addCleanup(patcher.stop)

    def _drop_fixtures(self):
        ids = self.ids
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            orders = env["sale.order"].search([("partner_id", "=", ids["partner"])])
            # Quotations marked sent cannot be deleted through the ORM.
            cr.execute(
                SQL(
                    "DELETE FROM mail_message WHERE model = 'sale.order' "
                    "AND res_id IN %s",
                    tuple(orders.ids) or (0,),
                )
            )
            cr.execute(
                SQL("DELETE FROM sale_order WHERE partner_id = %s", ids["partner"])
            )
            env["retainer.contract"].browse(ids["contract"]).unlink()
            env["retainer.level"].browse(ids["level"]).unlink()
            env["product.product"].browse(ids["product"]).product_tmpl_id.unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            env["res.company"].browse(ids["company"]).write(self.saved_settings)

    def _snapshot(self, env):
        """Read what the clicks decide on: the retainer's portal orders."""
        env["sale.order"].search_count([("retainer_id", "=", self.ids["contract"])])

    def _contract(self, env):
        return env["retainer.contract"].browse(self.ids["contract"])

    def _buy(self, env):
        contract = self._contract(env)
        product = env["product.product"].browse(self.ids["product"])
        contract._portal_buy(product, 1, requester=contract.partner_id)

    def _request(self, env):
        contract = self._contract(env)
        contract._portal_request_topup(1.0, "day", requester=contract.partner_id)

    def _orders(self, origin):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return len(
                env["sale.order"].search(
                    [
                        ("retainer_id", "=", self.ids["contract"]),
                        ("retainer_topup_origin", "=", origin),
                    ]
                )
            )

    def test_concurrent_buys_make_one_quotation(self):
        errors = self._concurrently(*[self._buy] * CLIENTS)
        self.assertFalse(errors)
        self.assertEqual(self._orders("portal_buy"), 1, "one open quotation")

    def test_concurrent_requests_keep_the_hourly_limit(self):
        errors = self._concurrently(*[self._request] * CLIENTS)
        self.assertEqual(len(errors), CLIENTS - HOURLY_LIMIT, errors)
        self.assertEqual(self._orders("portal_request"), HOURLY_LIMIT)
        for error in errors:
            self.assertIn(
                f"already made {HOURLY_LIMIT} top-up requests or purchases", error
            )
