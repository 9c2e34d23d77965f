from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import JsonRpcException

from .common import RetainerPortalCommon

# What Odoo answers a portal user who may not read or write a thread (the
# error's class name): never another error that would refuse it by chance.
REFUSED = r"NotFound|Forbidden|AccessError"


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalCommercialEntity(RetainerPortalCommon):
    """A subsidiary that is a company of its own (its own commercial entity)
    is another customer: the contacts of its parent do not see its
    retainers, and its contacts do not see the parent's. Checked on every
    portal route and through RPC reads, in both directions."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.subsidiary = cls.env["res.partner"].create(
            {
                "name": "Northwind Kids Clinic",
                "is_company": True,
                "parent_id": cls.customer.id,
            }
        )
        cls.subsidiary_user = cls._create_portal_user(
            "ret_portal_subsidiary", "Sam Subsidiary", cls.subsidiary
        )
        cls.subsidiary_retainer = cls._create_retainer(cls.subsidiary)
        cls._post_credit(cls.subsidiary_retainer, 28, "Kids clinic block")
        cls._post_usage(
            cls.subsidiary_retainer,
            1,
            first_days_ago=5,
            step_days=1,
            name="Kids clinic confidential move",
        )

    def _cases(self):
        """(user, own retainer, own text, foreign retainer, foreign texts)."""
        return [
            (
                self.portal_user,
                self.retainer,
                "Opening block of 3 days",
                self.subsidiary_retainer,
                ("Kids clinic block", "Kids clinic confidential move"),
            ),
            (
                self.subsidiary_user,
                self.subsidiary_retainer,
                "Kids clinic block",
                self.retainer,
                ("Opening block of 3 days", "Server recovery after power cut"),
            ),
        ]

    def test_fixture_is_two_commercial_entities(self):
        self.assertEqual(self.subsidiary.commercial_partner_id, self.subsidiary)
        self.assertEqual(
            self.portal_user.partner_id.commercial_partner_id, self.customer
        )

    def test_list_and_counter(self):
        for user, own, _own_text, foreign, _texts in self._cases():
            with self.subTest(user=user.login):
                self.authenticate(user.login, user.login)
                response = self.url_open("/my/retainers")
                self.assertEqual(response.status_code, 200)
                self.assertIn(own.name, response.text)
                self.assertNotIn(foreign.name, response.text)
                counters = self.make_jsonrpc_request(
                    "/my/counters", {"counters": ["retainer_count"]}
                )
                self.assertEqual(counters, {"retainer_count": 1})

    def test_detail_and_statement(self):
        for user, own, own_text, foreign, texts in self._cases():
            with self.subTest(user=user.login):
                self.authenticate(user.login, user.login)
                response = self.url_open(self._detail_url(own))
                self.assertEqual(response.status_code, 200)
                self.assertIn(own_text, response.text)
                self.assertRefused(
                    self.url_open(self._detail_url(foreign)), foreign.name, *texts
                )
                statement = self._detail_url(
                    foreign,
                    suffix="/statement",
                    report_type="html",
                    date_from="2000-01-01",
                )
                self.assertRefused(self.url_open(statement), foreign.name, *texts)
                self.assertRefused(
                    self.url_open(
                        self._detail_url(
                            foreign, report_type="html", date_from="2000-01-01"
                        )
                    ),
                    *texts,
                )

    def test_topup_post(self):
        for user, own, _own_text, foreign, texts in self._cases():
            with self.subTest(user=user.login):
                self.env.invalidate_all()
                activities = foreign.activity_ids
                messages = foreign.message_ids
                self.authenticate(user.login, user.login)
                csrf = self._csrf_token(self._detail_url(own))
                response = self.url_open(
                    self._detail_url(foreign, suffix="/topup"),
                    data={
                        "quantity": "2",
                        "unit": "day",
                        "note": "not ours",
                        "csrf_token": csrf,
                    },
                )
                self.assertRefused(response, foreign.name, *texts)
                self.env.invalidate_all()
                self.assertEqual(foreign.activity_ids, activities)
                self.assertEqual(foreign.message_ids, messages)

    def test_conversation(self):
        """The retainer's conversation: each reads and writes in their own,
        neither in the other's (the portal chatter's routes)."""
        for user, own, _own_text, foreign, _texts in self._cases():
            with self.subTest(user=user.login):
                secret = foreign.message_post(
                    body=f"Comment for {foreign.partner_id.name} only",
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                )
                self.authenticate(user.login, user.login)

                def call(route, retainer, **params):
                    return self.make_jsonrpc_request(
                        route,
                        {
                            "thread_model": "retainer.contract",
                            "thread_id": retainer.id,
                            **params,
                        },
                    )

                post_data = {
                    "message_type": "comment",
                    "subtype_xmlid": "mail.mt_comment",
                }
                call("/mail/message/post", own, post_data={**post_data, "body": "Ours"})
                fetched = call("/mail/chatter_fetch", own)["data"]["mail.message"]
                self.assertIn("Ours", str(fetched))
                fetched = call("/mail/chatter_fetch", foreign)["data"]["mail.message"]
                self.assertEqual(fetched, [])
                self.env.invalidate_all()
                messages = foreign.message_ids
                with self.assertRaisesRegex(JsonRpcException, REFUSED):
                    call(
                        "/mail/message/post",
                        foreign,
                        post_data={**post_data, "body": "not ours"},
                    )
                self.env.invalidate_all()
                self.assertEqual(foreign.message_ids, messages)
                self.assertIn(secret, messages)

    def test_rpc_reads(self):
        for user, own, _own_text, foreign, _texts in self._cases():
            with self.subTest(user=user.login):
                Contract = self.env["retainer.contract"].with_user(user)
                Entry = self.env["retainer.ledger.entry"].with_user(user)
                self.assertEqual(Contract.search([]), own)
                self.assertEqual(
                    Entry.search([]).contract_id, own, "only the own ledger"
                )
                with self.assertRaises(AccessError) as caught:
                    foreign.with_user(user).read(["name"])
                self.assertIn("retainer.contract", str(caught.exception))
                # The same through the JSON-RPC a browser session can call.
                self.authenticate(user.login, user.login)
                for model, fields in (
                    ("retainer.contract", ["name"]),
                    ("retainer.ledger.entry", ["name", "units"]),
                ):
                    field = "id" if model == "retainer.contract" else "contract_id"
                    found = self.make_jsonrpc_request(
                        f"/web/dataset/call_kw/{model}/search_read",
                        {
                            "model": model,
                            "method": "search_read",
                            "args": [],
                            "kwargs": {
                                "domain": [(field, "=", foreign.id)],
                                "fields": fields,
                            },
                        },
                    )
                    self.assertEqual(found, [], model)
