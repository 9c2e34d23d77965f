from odoo.tests import tagged
from odoo.tests.common import JsonRpcException

from .common_chatter import RetainerPortalChatterCommon

# What Odoo answers a portal user who may not read or write a thread (the
# error's class name): never another error that would refuse it by chance.
REFUSED = r"NotFound|Forbidden|AccessError"


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalChatter(RetainerPortalChatterCommon):
    """The conversation of a retainer on the portal: the customer reads its
    comments and the emails they got, never internal notes, and writes; the
    account manager is notified. Another customer can neither read nor
    write, through the routes the portal chatter and the web client use."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.retainer.message_post(
            body="Internal note: customer is late paying",
            subtype_xmlid="mail.mt_note",
        )
        cls.retainer.message_post(
            body="Welcome to your retainer",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            author_id=cls.manager.partner_id.id,
        )

    def test_detail_page_embeds_the_chatter(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(response.status_code, 200)
        self.assertIn('id="retainer_conversation"', response.text)
        self.assertIn('data-res_model="retainer.contract"', response.text)
        self.assertIn(f'data-res_id="{self.retainer.id}"', response.text)
        self.assertIn('data-allow_composer="1"', response.text)

    def test_email_link_identifies_the_recipient(self):
        """An email's link (pid and hash) lets its recipient write under
        their name: the page hands them to the chatter."""
        token = self.retainer._portal_ensure_token()
        pid = self.portal_user.partner_id.id
        signature = self.retainer._sign_token(pid)
        response = self.url_open(
            self._detail_url(self.retainer, access_token=token, pid=pid, hash=signature)
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(f'data-pid="{pid}"', response.text)
        self.assertIn(f'data-hash="{signature}"', response.text)
        self.assertIn(f'data-token="{token}"', response.text)
        self._chatter_post(
            self.retainer,
            "Written from the email link",
            token=token,
            pid=pid,
            hash=signature,
        )
        message = self.retainer.message_ids[:1]
        self.assertIn("Written from the email link", message.body)
        self.assertEqual(message.author_id, self.portal_user.partner_id)

    def test_customer_reads_comments_and_emails_not_notes(self):
        alert = self._post_customer_mail(self.retainer, "alert")
        statement = self._post_customer_mail(self.retainer, "statement")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        messages = self._chatter_fetch(self.retainer)
        ids = {message["id"] for message in messages}
        self.assertIn(alert.id, ids)
        self.assertIn(statement.id, ids)
        bodies = " ".join(message["body"] for message in messages)
        self.assertIn("Welcome to your retainer", bodies)
        self.assertIn("Customer email of the retainer", bodies)
        self.assertNotIn("customer is late paying", bodies)
        # Nothing of another retainer.
        self.assertEqual(
            set(
                self.env["mail.message"]
                .browse(ids)
                .mapped(lambda message: (message.model, message.res_id))
            ),
            {("retainer.contract", self.retainer.id)},
        )

    def test_customer_writes_and_account_manager_is_notified(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._chatter_post(self.retainer, "Can we plan the server move?")
        message = self.retainer.message_ids[:1]
        self.assertIn("Can we plan the server move?", message.body)
        self.assertEqual(message.author_id, self.portal_user.partner_id)
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))
        self.assertFalse(message.is_internal)
        self.assertIn(self.manager.partner_id, message.notification_ids.res_partner_id)
        bodies = [item["body"] for item in self._chatter_fetch(self.retainer)]
        self.assertTrue(any("Can we plan the server move?" in b for b in bodies))

    def test_share_link_visitor_reads_and_writes_in_the_customer_name(self):
        alert = self._post_customer_mail(self.retainer, "alert")
        token = self.retainer._portal_ensure_token()
        messages = self._chatter_fetch(self.retainer, token=token)
        self.assertIn(alert.id, {message["id"] for message in messages})
        bodies = " ".join(message["body"] for message in messages)
        self.assertNotIn("customer is late paying", bodies)
        self._chatter_post(self.retainer, "From the shared link", token=token)
        message = self.retainer.message_ids[:1]
        self.assertIn("From the shared link", message.body)
        self.assertEqual(message.author_id, self.customer)

    def test_wrong_token_is_refused(self):
        self._post_customer_mail(self.retainer, "alert")
        messages = self.retainer.message_ids
        with self.assertRaisesRegex(JsonRpcException, REFUSED):
            self._chatter_fetch(self.retainer, token="not-the-token")
        with self.assertRaisesRegex(JsonRpcException, REFUSED):
            self._chatter_post(self.retainer, "Intruder", token="not-the-token")
        self.env.invalidate_all()
        self.assertEqual(self.retainer.message_ids, messages)

    def test_other_customer_cannot_read_or_write(self):
        """Two customers: each reads and writes in their own retainer's
        conversation only, through the portal chatter's routes and the web
        client's."""
        own_alert = self._post_customer_mail(self.other_retainer, "alert")
        foreign_alert = self._post_customer_mail(self.retainer, "alert")
        foreign_messages = self.retainer.message_ids
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        # Their own conversation works.
        own = self._chatter_fetch(self.other_retainer)
        self.assertEqual({message["id"] for message in own}, {own_alert.id})
        self._chatter_post(self.other_retainer, "Southfield question")
        # The other customer's: nothing to read...
        self.assertEqual(self._chatter_fetch(self.retainer), [])
        result = self.make_jsonrpc_request(
            "/mail/thread/messages",
            {"thread_model": "retainer.contract", "thread_id": self.retainer.id},
        )
        self.assertEqual(result["messages"], [])
        fetched = [item["id"] for item in result["data"].get("mail.message", [])]
        self.assertNotIn(foreign_alert.id, fetched)
        data = self.make_jsonrpc_request(
            "/mail/thread/data",
            {
                "thread_model": "retainer.contract",
                "thread_id": self.retainer.id,
                "request_list": ["followers"],
            },
        )
        self.assertIn("'hasReadAccess': False", str(data))
        self.assertNotIn("Olivia Owner", str(data))
        # ... and nothing to write.
        with self.assertRaisesRegex(JsonRpcException, REFUSED):
            self._chatter_post(self.retainer, "Southfield in Northwind's thread")
        with self.assertRaisesRegex(JsonRpcException, REFUSED):
            self.make_jsonrpc_request(
                "/portal/chatter_init",
                {"thread_model": "retainer.contract", "thread_id": self.retainer.id},
            )
        self.env.invalidate_all()
        self.assertEqual(self.retainer.message_ids, foreign_messages)
        self.assertIn("Southfield question", self.other_retainer.message_ids[:1].body)
