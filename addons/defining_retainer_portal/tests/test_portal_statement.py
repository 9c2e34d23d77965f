from datetime import date, timedelta
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import RetainerPortalCommon

REPORT = "defining_retainer.action_report_retainer_statement"


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalStatement(RetainerPortalCommon):
    """The statement: opening balance, the period's entries with a running
    balance, closing balance; as HTML and real PDF, on the portal and from
    the backend."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.statement_retainer = cls._create_retainer(cls.customer)
        Ledger = cls.env["retainer.ledger.entry"]
        Ledger._post(
            [
                {
                    "contract_id": cls.statement_retainer.id,
                    "kind": "credit",
                    "units": 56,
                    "reason": "Block bought in December",
                    "date": date(2024, 12, 20),
                },
                cls._usage_vals(cls.statement_retainer, 0, date(2024, 12, 28)),
                cls._usage_vals(cls.statement_retainer, 2, date(2025, 1, 10)),
                cls._usage_vals(cls.statement_retainer, 6, date(2025, 1, 31)),
                cls._usage_vals(cls.statement_retainer, 5, date(2025, 2, 1)),
            ]
        )

    def test_statement_data(self):
        values = self.statement_retainer._statement_data(
            date(2025, 1, 1), date(2025, 1, 31)
        )
        # Opening: 56 - 15 (3h37 on-site). January: -6 (1h30) and -1 (0h15).
        self.assertEqual(values["opening"], 41)
        self.assertEqual(
            [(entry.date, balance) for entry, balance in values["lines"]],
            [(date(2025, 1, 10), 35), (date(2025, 1, 31), 34)],
        )
        self.assertEqual(values["topup_units"], 0)
        self.assertEqual(values["usage_units"], -7)
        self.assertEqual(values["closing"], 34)

        empty = self.statement_retainer._statement_data(
            date(2030, 1, 1), date(2030, 1, 31)
        )
        self.assertEqual(empty["lines"], [])
        self.assertEqual(empty["opening"], empty["closing"])
        self.assertEqual(empty["closing"], 56 - 15 - 6 - 1 - 8)

    def test_statements_of_many_retainers_in_constant_queries(self):
        retainers = self.statement_retainer
        for _index in range(5):
            retainer = self._create_retainer(self.customer)
            self._post_credit(retainer, 28, "Block", days_ago=3)
            retainers |= retainer
        counts = []
        for batch in (retainers[:2], retainers):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            statements = batch._statement_data_by_contract(
                date(2020, 1, 1), date(2040, 1, 1)
            )
            counts.append(self.cr.sql_log_count - before)
            self.assertEqual(set(statements), set(batch.ids))
        self.assertEqual(counts[0], counts[1], "2 and 6 retainers: same queries")
        self.assertEqual(
            statements[self.statement_retainer.id],
            self.statement_retainer._statement_data(date(2020, 1, 1), date(2040, 1, 1)),
        )

    def test_statement_link_follows_the_statement_period_rule(self):
        """Only an end date filtered: the link offers the statement the
        report prints for it (the default period ending then)."""
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(
            self._detail_url(self.statement_retainer, date_to="2025-01-31")
        )
        self.assertEqual(page.status_code, 200)
        self.assertIn("date_from=2024-12-01&amp;date_to=2025-01-31", page.text)

    def test_statement_html_on_portal(self):
        january_debit = self.env["retainer.ledger.entry"].search(
            [
                ("contract_id", "=", self.statement_retainer.id),
                ("date", "=", date(2025, 1, 10)),
            ]
        )
        january_debit._reverse(
            reason="Internal: logged twice by mistake", date=date(2025, 1, 20)
        )
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(
            self._detail_url(
                self.statement_retainer,
                suffix="/statement",
                report_type="html",
                date_from="2025-01-01",
                date_to="2025-01-31",
            )
        )
        self.assertEqual(response.status_code, 200)
        text = response.text
        self.assertIn(self.statement_retainer.name, text)
        self.assertIn("Printer driver roll-out", text)
        self.assertIn("VPN advice", text)
        # Outside the period.
        self.assertNotIn("Server recovery after power cut", text)
        self.assertNotIn("Backup health check", text)
        self.assertIn("Opening balance", text)
        self.assertIn("Closing balance", text)
        self.assertIn("Correction", text)
        self.assertNotIn("Internal: logged twice by mistake", text)

    def test_statement_bad_dates_use_default_period(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        for query in [
            "date_from=2025-02-31&date_to=garbage",
            "date_from=0001-01-01&date_to=9999-12-31",
            "date_from=&date_to=",
            "date_from[]=x",
            "report_type=exe",
        ]:
            with self.subTest(query=query):
                response = self.url_open(
                    self._detail_url(self.retainer, suffix="/statement")
                    + "?report_type=html&"
                    + query
                )
                self.assertEqual(response.status_code, 200)
                self.assertIn("Closing balance", response.text)
        # Reversed dates are swapped.
        response = self.url_open(
            self._detail_url(
                self.statement_retainer,
                suffix="/statement",
                report_type="html",
                date_from="2025-01-31",
                date_to="2025-01-01",
            )
        )
        self.assertIn("Printer driver roll-out", response.text)

    def test_statement_real_pdf(self):
        """wkhtmltopdf really runs (tests render HTML unless forced)."""
        pdf, report_type = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(
                REPORT,
                self.statement_retainer.ids,
                data={"date_from": "2025-01-01", "date_to": "2025-01-31"},
            )
        )
        self.assertEqual(report_type, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))

    def test_statement_pdf_download_on_portal(self):
        """The portal download is a real PDF attachment. wkhtmltopdf is
        pointed at a closed port for its stylesheets: in a test, the server
        thread rendering the report holds the test cursor the asset request
        would need."""
        self.env["ir.config_parameter"].set_param("report.url", "http://127.0.0.1:9")
        Report = self.registry["ir.actions.report"]
        render = Report._render_qweb_pdf

        def forced_render(report_self, *args, **kwargs):
            return render(
                report_self.with_context(force_report_rendering=True), *args, **kwargs
            )

        self.authenticate(self.portal_user.login, self.portal_user.login)
        with patch.object(Report, "_render_qweb_pdf", forced_render):
            response = self.url_open(
                self._detail_url(
                    self.statement_retainer,
                    suffix="/statement",
                    report_type="pdf",
                    download="true",
                    date_from="2025-01-01",
                    date_to="2025-01-31",
                ),
                timeout=60,
            )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        self.assertIn("attachment", response.headers["Content-Disposition"])
        self.assertTrue(response.content.startswith(b"%PDF"))

    def test_backend_print(self):
        report = self.env.ref(REPORT)
        self.assertEqual(report.binding_model_id.model, "retainer.contract")
        wizard = (
            self.env["retainer.statement.print"]
            .with_user(self.manager)
            .with_context(
                active_model="retainer.contract",
                active_ids=self.statement_retainer.ids,
            )
            .create({"date_from": date(2025, 1, 1), "date_to": date(2025, 1, 31)})
        )
        self.assertEqual(wizard.contract_ids, self.statement_retainer)
        action = wizard.action_print()
        self.assertEqual(action["report_name"], report.report_name)
        self.assertEqual(
            action["data"], {"date_from": "2025-01-01", "date_to": "2025-01-31"}
        )
        html, __ = (
            self.env["ir.actions.report"]
            .with_user(self.manager)
            ._render_qweb_html(REPORT, self.statement_retainer.ids, data=action["data"])
        )
        self.assertIn(b"Printer driver roll-out", html)
        self.assertNotIn(b"Backup health check", html)

    def test_backend_default_period(self):
        wizard = self.env["retainer.statement.print"].create(
            {"contract_ids": self.retainer.ids}
        )
        self.assertEqual(wizard.date_to, self.today)
        self.assertEqual(wizard.date_from.day, 1)
        self.assertLess(wizard.date_from, self.today.replace(day=1))
        self.assertGreater(wizard.date_from, self.today - timedelta(days=63))

    def test_report_refuses_unreadable_retainer(self):
        with self.assertRaises(AccessError) as caught:
            self.env["ir.actions.report"].with_user(
                self.other_portal_user
            )._render_qweb_html(REPORT, self.retainer.ids)
        self.assertIn("Retainer (retainer.contract)", str(caught.exception))
