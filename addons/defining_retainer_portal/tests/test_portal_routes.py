from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalRoutes(RetainerPortalCommon):
    """Who sees what on every route: the owner sees their retainer, another
    customer and anonymous visitors are refused without learning anything,
    a share link opens the page."""

    def _other_secrets(self):
        return (
            self.other_retainer.name,
            "Secret block of Southfield",
            "Southfield confidential migration",
        )

    # === /my and /my/counters === #

    def test_home_counter(self):
        self._create_retainer(self.customer, state="draft")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        home = self.url_open("/my")
        self.assertEqual(home.status_code, 200)
        self.assertIn('data-placeholder_count="retainer_count"', home.text)
        counters = self.make_jsonrpc_request(
            "/my/counters", {"counters": ["retainer_count"]}
        )
        # The draft retainer is not counted.
        self.assertEqual(counters, {"retainer_count": 1})

    def test_home_counter_without_retainer(self):
        lonely = self.env["res.partner"].create(
            {"name": "No Retainer Ltd", "is_company": True}
        )
        user = self._create_portal_user("ret_portal_lonely", "Lonely", lonely)
        self.authenticate(user.login, user.login)
        counters = self.make_jsonrpc_request(
            "/my/counters", {"counters": ["retainer_count"]}
        )
        self.assertEqual(counters, {"retainer_count": 0})

    # === /my/retainers === #

    def test_list_owner(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open("/my/retainers")
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.retainer.name, response.text)
        self.assertIn(f'href="/my/retainers/{self.retainer.id}"', response.text)
        for secret in self._other_secrets():
            self.assertNotIn(secret, response.text)
        # A list link never creates share tokens.
        self.assertNotIn("access_token", response.text)

    def test_list_filters_and_search(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        name = self.retainer.name
        for query, shown in [
            ("filterby=active", True),
            ("filterby=ended", False),
            ("filterby=all&sortby=state", True),
            (f"search={name}&search_in=name", True),
            ("search=On-site&search_in=level", True),
            ("search=Telephone&search_in=level", False),
            ("search=nothing-like-this&search_in=name", False),
        ]:
            with self.subTest(query=query):
                response = self.url_open(f"/my/retainers?{query}")
                self.assertEqual(response.status_code, 200)
                self.assertEqual(name in response.text, shown)
        self.retainer.action_suspend()
        response = self.url_open("/my/retainers?filterby=ended")
        self.assertIn(name, response.text)

    def test_list_other_customer(self):
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self.url_open("/my/retainers")
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.other_retainer.name, response.text)
        self.assertNotIn(self.retainer.name, response.text)

    def test_list_public_redirects_to_login(self):
        response = self.url_open("/my/retainers")
        self.assertIn("/web/login", response.url)
        self.assertNotIn(self.retainer.name, response.text)

    # === /my/retainers/<id> === #

    def test_detail_owner(self):
        debit = self.env["retainer.ledger.entry"].search(
            [("contract_id", "=", self.retainer.id), ("kind", "=", "debit")], limit=1
        )
        debit._reverse(reason="Internal: consultant logged on the wrong customer")
        self.env["retainer.ledger.entry"]._post(
            [
                {
                    "contract_id": self.retainer.id,
                    "kind": "adjustment",
                    "units": 2,
                    "reason": "Goodwill gesture after the outage",
                }
            ]
        )
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(response.status_code, 200)
        text = response.text
        self.assertIn(self.retainer.name, text)
        self.assertIn("Opening block of 3 days", text)
        self.assertIn("Alice Martin", text)
        self.assertIn("Server recovery after power cut", text)
        self.assertIn("o_retainer_balance", text)
        self.assertIn("o_retainer_forecast", text)
        self.assertIn("Correction", text)
        # Adjustment reasons are for the customer, reversal reasons are not.
        self.assertIn("Goodwill gesture after the outage", text)
        self.assertNotIn("consultant logged on the wrong customer", text)
        self.assertIn(f"/my/retainers/{self.retainer.id}/statement?", text)
        self.assertIn(f"/my/retainers/{self.retainer.id}/topup", text)
        for secret in self._other_secrets():
            self.assertNotIn(secret, text)

    def test_detail_other_customer_refused(self):
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        missing_id = self.env["retainer.contract"].search([], order="id desc", limit=1)
        for url in [
            self._detail_url(self.retainer),
            self._detail_url(self.retainer, access_token="not-the-token"),
            self._detail_url(self.retainer, access_token=""),
            self._detail_url(self.retainer, suffix="/page/2"),
            f"/my/retainers/{missing_id.id + 1000}",
        ]:
            with self.subTest(url=url):
                response = self.url_open(url)
                self.assertRefused(
                    response, self.retainer.name, "Opening block of 3 days"
                )

    def test_detail_public_redirects_to_login(self):
        response = self.url_open(self._detail_url(self.retainer))
        self.assertRefused(response, self.retainer.name)
        self.assertIn("/web/login", response.url)

    def test_detail_share_link(self):
        token = self.retainer._portal_ensure_token()
        response = self.url_open(self._detail_url(self.retainer, access_token=token))
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.retainer.name, response.text)
        self.assertIn("Opening block of 3 days", response.text)
        # Every link and form of the page keeps the token.
        self.assertIn(f'name="access_token" value="{token}"', response.text)
        # The token of one retainer opens no other.
        response = self.url_open(
            self._detail_url(self.other_retainer, access_token=token)
        )
        self.assertRefused(response, self.other_retainer.name)

    def test_draft_hidden_even_with_token(self):
        draft = self._create_retainer(self.customer, state="draft")
        token = draft._portal_ensure_token()
        response = self.url_open(self._detail_url(draft, access_token=token))
        self.assertRefused(response, draft.name)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(draft))
        self.assertRefused(response, draft.name)

    def test_detail_internal_users(self):
        self.authenticate(self.manager.login, self.manager.login)
        response = self.url_open(self._detail_url(self.other_retainer))
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.other_retainer.name, response.text)
        # Staff get the link back to the form view.
        self.assertIn("retainer_contract_action", response.text)
        employee = new_test_user(
            self.env, login="ret_portal_employee", groups="base.group_user"
        )
        self.authenticate(employee.login, employee.login)
        response = self.url_open(self._detail_url(self.retainer))
        self.assertRefused(response, self.retainer.name)
        response = self.url_open("/my/retainers")
        self.assertEqual(response.status_code, 200)
        self.assertNotIn(self.retainer.name, response.text)

    # === /my/retainers/<id>/statement === #

    def test_statement_access(self):
        url = self._detail_url(
            self.retainer,
            suffix="/statement",
            report_type="html",
            date_from="2000-01-01",
        )
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Opening balance", response.text)
        self.assertIn("Server recovery after power cut", response.text)
        self.assertNotIn("Southfield", response.text)

        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        self.assertRefused(self.url_open(url), "Server recovery after power cut")
        self.assertRefused(
            self.url_open(url + "&access_token=wrong"),
            "Server recovery after power cut",
        )

        self.authenticate(None, None)
        response = self.url_open(url)
        self.assertRefused(response, "Server recovery after power cut")
        self.assertIn("/web/login", response.url)
        token = self.retainer._portal_ensure_token()
        response = self.url_open(f"{url}&access_token={token}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Server recovery after power cut", response.text)

    def test_statement_through_report_type(self):
        """The detail route serves the statement for the usual report_type."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(
            self._detail_url(self.retainer, report_type="html", date_from="2000-01-01")
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_retainer_statement_lines", response.text)
        self.assertIn("Opening block of 3 days", response.text)

    # === /my/retainers/<id>/topup (access only; see test_portal_topup) === #

    def _written(self):
        return (
            self.env["sale.order"].search_count([]),
            self.env["mail.activity"].search_count(
                [("res_model", "=", "retainer.contract")]
            ),
            self.env["mail.message"].search_count(
                [("model", "=", "retainer.contract"), ("message_type", "=", "comment")]
            ),
        )

    def test_topup_refused(self):
        before = self._written()
        url = self._detail_url(self.retainer, suffix="/topup")
        form = {"quantity": "2", "unit": "day", "note": "hello"}

        # Another customer, with a valid CSRF token of their own session.
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        csrf = self._csrf_token(self._detail_url(self.other_retainer))
        response = self.url_open(url, data={**form, "csrf_token": csrf})
        self.assertRefused(response, self.retainer.name)
        response = self.url_open(
            url, data={**form, "csrf_token": csrf, "access_token": "wrong"}
        )
        self.assertRefused(response, self.retainer.name)

        # The owner, but without the CSRF token.
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(url, data=form)
        self.assertEqual(response.status_code, 400)

        # Anonymous, no token.
        self.authenticate(None, None)
        response = self.url_open(url, data=form)
        self.assertIn(response.status_code, (200, 400))
        self.assertNotIn(self.retainer.name, response.text)

        self.env.invalidate_all()
        self.assertEqual(self._written(), before)

    def test_topup_get_not_allowed(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.retainer, suffix="/topup"))
        self.assertEqual(response.status_code, 405)

    # === read replica === #

    def test_read_pages_may_be_served_by_a_replica(self):
        """The pages that only read are declared ``readonly``: with a
        ``--db_replica_host``, Odoo serves them from the replica. The top-up
        request writes: it stays on the primary."""
        adapter = self.env["ir.http"].routing_map().bind("localhost")
        retainer_url = f"/my/retainers/{self.retainer.id}"
        for path, method, readonly in (
            ("/my/retainers", "GET", True),
            ("/my/retainers/page/2", "GET", True),
            (retainer_url, "GET", True),
            (f"{retainer_url}/page/2", "GET", True),
            (f"{retainer_url}/statement", "GET", True),
            (f"{retainer_url}/topup", "POST", False),
        ):
            endpoint, _args = adapter.match(path, method=method)
            self.assertIs(endpoint.routing["readonly"], readonly, path)


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalDocumentLinks(RetainerPortalCommon, AccountTestInvoicingCommon):
    """Top-ups link to their order and invoice on the portal. The fixture
    lives in a company of its own with a chart of accounts, so invoices can
    always be posted."""

    @classmethod
    def setup_independent_user(cls):
        # Build the portal fixture as the superuser, like the other portal
        # tests; only the company is independent.
        return None

    def test_topup_document_links(self):
        """Top-ups link to their order and posted invoice on the portal, only
        when those belong to the retainer's customer."""
        self.assertEqual(self.retainer.company_id, self.company_data["company"])
        product = self._create_product(
            name="Link test service", type="service", list_price=10.0
        )
        own_order, foreign_order = self.env["sale.order"].create(
            [
                {
                    "partner_id": partner.id,
                    "order_line": [Command.create({"product_id": product.id})],
                }
                for partner in (self.customer, self.other_customer)
            ]
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_line_ids": [
                    Command.create({"product_id": product.id, "price_unit": 10.0})
                ],
            }
        )
        invoice.action_post()
        own_entry, foreign_entry = self.env["retainer.ledger.entry"]._post(
            [
                {
                    "contract_id": self.retainer.id,
                    "kind": "credit",
                    "units": 28,
                    "sale_line_id": own_order.order_line.id,
                    "invoice_id": invoice.id,
                },
                {
                    "contract_id": self.retainer.id,
                    "kind": "credit",
                    "units": 4,
                    "sale_line_id": foreign_order.order_line.id,
                },
            ]
        )
        own_order.access_token = invoice.access_token = False
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page_url = self._detail_url(self.retainer)
        text = self.url_open(page_url).text
        # The page is read-only (it may be served by a replica): documents
        # without an access token are linked through a route that writes it.
        self.env.invalidate_all()
        self.assertFalse(own_order.access_token)
        self.assertFalse(invoice.access_token)
        for document, path, kind in (
            (own_order, "/my/orders/", "order"),
            (invoice, "/my/invoices/", "invoice"),
        ):
            link = f"/my/retainers/{self.retainer.id}/document/{own_entry.id}/{kind}"
            self.assertIn(link, text)
            response = self.url_open(link)
            self.assertEqual(response.status_code, 200)
            self.env.invalidate_all()
            self.assertTrue(document.access_token)
            self.assertEqual(
                response.url,
                f"{self.base_url()}{path}{document.id}"
                f"?access_token={document.access_token}",
            )
            self.assertIn(document.name, response.text)
        # Once they have a token, the page links them directly.
        text = self.url_open(page_url).text
        self.assertIn(f"/my/orders/{own_order.id}?access_token=", text)
        self.assertIn(f"/my/invoices/{invoice.id}?access_token=", text)
        self.assertNotIn(f"/my/orders/{foreign_order.id}?", text)
        self.assertNotIn(foreign_order.name, text)
        self.assertNotIn(f"/document/{foreign_entry.id}/", text)
        # The route follows only documents of the retainer's customer.
        response = self.url_open(
            f"/my/retainers/{self.retainer.id}/document/{foreign_entry.id}/order"
        )
        self.assertTrue(response.url.endswith(page_url), response.url)
        self.assertNotIn(foreign_order.name, response.text)
        self.env.invalidate_all()
        self.assertFalse(foreign_order.access_token)
