from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import JsonRpcException

from .common import RetainerPortalCommon

INTERNAL_NOTE = "internal: goodwill before signature"


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalLedgerRpc(RetainerPortalCommon):
    """Ledger entries reach a portal user only where their retainer does (a
    draft retainer's do not), and the internal ``reason`` of an entry never
    does, whatever the RPC call. The portal pages still show the
    customer-facing text of their own entries."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.draft = cls._create_retainer(cls.customer, state="draft")
        cls._post_credit(cls.draft, 8, INTERNAL_NOTE)

    def test_draft_retainer_entries_hidden(self):
        Entry = self.env["retainer.ledger.entry"].with_user(self.portal_user)
        self.assertFalse(Entry.search([("contract_id", "=", self.draft.id)]))
        self.assertEqual(Entry.search([]).contract_id, self.retainer)
        draft_entry = self.draft.ledger_entry_ids
        with self.assertRaises(AccessError) as caught:
            draft_entry.with_user(self.portal_user).read(["units"])
        self.assertIn("retainer.ledger.entry", str(caught.exception))

    def test_reason_never_readable(self):
        Entry = self.env["retainer.ledger.entry"].with_user(self.portal_user)
        entries = Entry.search([])
        self.assertTrue(entries)
        self.assertNotIn("reason", Entry.fields_get())
        for call in (
            lambda: Entry.search_read([], ["units", "reason"]),
            lambda: entries.read(["reason"]),
            lambda: entries.mapped("reason"),
        ):
            with self.assertRaises(AccessError) as caught:
                call()
            self.assertIn("reason", str(caught.exception))
        # Reading everything a portal user may read shows no reason.
        for values in Entry.search_read([]):
            self.assertNotIn("reason", values)
            self.assertNotIn(INTERNAL_NOTE, str(values))

    def test_json_rpc(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)

        def search_read(domain, fields):
            return self.make_jsonrpc_request(
                "/web/dataset/call_kw/retainer.ledger.entry/search_read",
                {
                    "model": "retainer.ledger.entry",
                    "method": "search_read",
                    "args": [],
                    "kwargs": {"domain": domain, "fields": fields},
                },
            )

        self.assertEqual(search_read([("contract_id", "=", self.draft.id)], []), [])
        rows = search_read([], [])
        self.assertTrue(rows)
        self.assertEqual({row["contract_id"][0] for row in rows}, {self.retainer.id})
        self.assertNotIn(INTERNAL_NOTE, str(rows))
        with self.assertRaisesRegex(JsonRpcException, "AccessError"):
            search_read([], ["reason"])

    def test_portal_pages_keep_customer_text(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(response.status_code, 200)
        # The top-up's customer-facing text, shown by the page in sudo.
        self.assertIn("Opening block of 3 days", response.text)
        statement = self.url_open(
            self._detail_url(
                self.retainer,
                suffix="/statement",
                report_type="html",
                date_from="2000-01-01",
            )
        )
        self.assertEqual(statement.status_code, 200)
        self.assertIn("Opening block of 3 days", statement.text)
        self.assertNotIn(INTERNAL_NOTE, response.text + statement.text)
