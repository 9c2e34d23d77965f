from datetime import timedelta

from odoo.tests import tagged

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalStatementHistory(RetainerPortalCommon):
    """ "Past statements" on the retainer's page: the statements emailed to
    the customer, each PDF downloadable by whoever may see the retainer and
    by nobody else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Both retainers send monthly statements since three months ago: the
        # job creates the last two or three closed months.
        start = cls.today.replace(day=1)
        for _month in range(3):
            start = (start.replace(day=1) - timedelta(days=1)).replace(day=1)
        retainers = cls.retainer | cls.other_retainer
        retainers.write({"statement_frequency": "monthly"})
        retainers.write({"statement_start_date": start})
        cls.env["retainer.statement"]._retainer_send_statements(today=cls.today)
        cls.own_statements = cls.retainer.statement_ids
        cls.other_statement = cls.other_retainer.statement_ids[:1]

    def _pdf_url(self, retainer, statement_id, **params):
        return self._detail_url(
            retainer, suffix=f"/statements/{statement_id}", **params
        )

    def test_fixture(self):
        self.assertEqual(len(self.own_statements), 3)
        self.assertTrue(self.other_statement)
        self.assertTrue(all(self.own_statements.mapped("attachment_id")))

    def test_detail_page_lists_past_statements(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(response.status_code, 200)
        text = response.text
        self.assertIn('id="retainer_statements"', text)
        self.assertIn("Past statements", text)
        self.assertEqual(text.count('class="o_retainer_past_statement"'), 3)
        for statement in self.own_statements:
            self.assertIn(
                f"/my/retainers/{self.retainer.id}/statements/{statement.id}", text
            )
        self.assertNotIn(f"/statements/{self.other_statement.id}", text)

    def test_no_block_without_statements(self):
        retainer = self._create_retainer(self.customer)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._detail_url(retainer))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("Past statements", response.text)

    def test_download_own_statement(self):
        statement = self.own_statements[0]
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(self._pdf_url(self.retainer, statement.id))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        disposition = response.headers["Content-Disposition"]
        self.assertIn("attachment", disposition)
        self.assertIn(self.retainer.name.replace("/", "_"), disposition)
        self.assertEqual(response.content, statement.attachment_id.raw)

    def test_download_with_the_share_link(self):
        token = self.retainer._portal_ensure_token()
        statement = self.own_statements[0]
        response = self.url_open(
            self._pdf_url(self.retainer, statement.id, access_token=token)
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, statement.attachment_id.raw)
        response = self.url_open(
            self._pdf_url(self.retainer, statement.id, access_token="wrong")
        )
        self.assertIn("/web/login", response.url)
        self.assertNotEqual(response.content, statement.attachment_id.raw)

    def test_other_customer_refused(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        # Another customer's retainer: forbidden.
        response = self.url_open(
            self._pdf_url(self.other_retainer, self.other_statement.id)
        )
        self.assertEqual(response.status_code, 403)
        self.assertNotEqual(response.content, self.other_statement.attachment_id.raw)
        # Another customer's statement through one's own retainer: not found.
        response = self.url_open(self._pdf_url(self.retainer, self.other_statement.id))
        self.assertEqual(response.status_code, 404)
        # No such retainer, no such statement.
        response = self.url_open(self._pdf_url(self.retainer, 0))
        self.assertEqual(response.status_code, 404)
        response = self.url_open(f"/my/retainers/999999999/statements/{1}")
        self.assertEqual(response.status_code, 404)

    def test_anonymous_visitor_is_sent_to_login(self):
        statement = self.own_statements[0]
        response = self.url_open(self._pdf_url(self.retainer, statement.id))
        self.assertIn("/web/login", response.url)
        self.assertNotEqual(response.content, statement.attachment_id.raw)

    def test_portal_user_reads_only_own_statements(self):
        domain = [("contract_id", "in", (self.retainer | self.other_retainer).ids)]
        Statement = self.env["retainer.statement"]
        self.assertEqual(
            Statement.with_user(self.portal_user).search(domain), self.own_statements
        )
        self.assertEqual(
            Statement.with_user(self.other_portal_user).search(domain),
            self.other_retainer.statement_ids,
        )
