import io
from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import file_path, mute_logger
from odoo.tools.pdf import PdfFileReader
from odoo.tools.translate import TranslationImporter

from .common import RetainerCommon

TEMPLATE = "defining_retainer.mail_template_retainer_statement"


@tagged("post_install", "-at_install", "defining_retainer")
class TestStatementJob(RetainerCommon):
    """The daily job emails the statement of every closed period once, PDF
    attached, to the contacts who did not switch statements off."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.email = "support@quarterhour.example.com"
        cls.billing = cls.env["res.partner"].create(
            {
                "name": "Bea Billing",
                "parent_id": cls.customer.id,
                "type": "invoice",
                "email": "bea.billing@customer.example.com",
            }
        )
        cls.monthly = cls._statement_contract("monthly", date(2025, 1, 1))
        cls.quarterly = cls._statement_contract("quarterly", date(2025, 1, 1))

    @classmethod
    def _statement_contract(cls, frequency, start, partner=None):
        """An active retainer of ``partner`` (default: the customer) sending
        ``frequency`` statements from ``start``: 56 units bought on 20
        December 2024, 6 used on 10 January, 4 on 5 February, 28 bought on
        3 March, 2 used on 20 April."""
        contract = cls._create_contract(
            partner or cls.customer,
            cls.level_onsite,
            statement_frequency=frequency,
        )
        contract.statement_start_date = start
        Ledger = cls.env["retainer.ledger.entry"]
        vals = [
            ("credit", 56, date(2024, 12, 20)),
            ("debit", -6, date(2025, 1, 10)),
            ("debit", -4, date(2025, 2, 5)),
            ("credit", 28, date(2025, 3, 3)),
            ("debit", -2, date(2025, 4, 20)),
        ]
        Ledger._post(
            [
                {
                    "contract_id": contract.id,
                    "kind": kind,
                    "units": units,
                    "date": day,
                    "reason": "Block" if kind == "credit" else False,
                    "name": "Support work" if kind == "debit" else False,
                }
                for kind, units, day in vals
            ]
        )
        return contract

    def _send(self, today, contracts=None):
        """Run the job for ``today``; return the statements of
        ``contracts`` (default: the monthly and quarterly retainers) it
        created."""
        contracts = contracts or (self.monthly | self.quarterly)
        created = self.env["retainer.statement"]._retainer_send_statements(
            today=today, batch_size=2
        )
        return created.filtered(lambda s: s.contract_id in contracts)

    def _periods(self, statements):
        return [(s.date_from, s.date_to) for s in statements.sorted("date_from")]

    def _statement_messages(self, contract):
        subtype = self.env.ref("defining_retainer.mt_retainer_statement")
        return contract.message_ids.filtered(lambda m: m.subtype_id == subtype)

    # === PERIODS === #

    def test_monthly_and_quarterly_periods(self):
        statements = self._send(date(2025, 7, 15))
        self.assertEqual(
            self._periods(statements.filtered(lambda s: s.contract_id == self.monthly)),
            [
                (date(2025, 1, 1), date(2025, 1, 31)),
                (date(2025, 2, 1), date(2025, 2, 28)),
                (date(2025, 3, 1), date(2025, 3, 31)),
                (date(2025, 4, 1), date(2025, 4, 30)),
                (date(2025, 5, 1), date(2025, 5, 31)),
                (date(2025, 6, 1), date(2025, 6, 30)),
            ],
        )
        quarterly = statements.filtered(lambda s: s.contract_id == self.quarterly)
        self.assertEqual(
            self._periods(quarterly),
            [
                (date(2025, 1, 1), date(2025, 3, 31)),
                (date(2025, 4, 1), date(2025, 6, 30)),
            ],
        )
        first, second = quarterly.sorted("date_from")
        # Q1: 56 opening, +28 bought, -10 used; Q2: -2.
        self.assertEqual(
            (first.opening_units, first.topup_units, first.usage_units),
            (56, 28, -10),
        )
        self.assertEqual(first.closing_units, 74)
        self.assertEqual((second.opening_units, second.closing_units), (74, 72))
        self.assertEqual(second.usage_units, -2)

    def test_period_ending_today_is_not_closed(self):
        self.assertEqual(
            self._periods(self._send(date(2025, 3, 31), self.quarterly)), []
        )
        self.assertEqual(
            self._periods(self._send(date(2025, 4, 1), self.quarterly)),
            [(date(2025, 1, 1), date(2025, 3, 31))],
        )

    def test_catch_up_after_missed_months_then_nothing_twice(self):
        january = self._send(date(2025, 2, 3), self.monthly)
        self.assertEqual(
            self._periods(january), [(date(2025, 1, 1), date(2025, 1, 31))]
        )
        # No run in February, March and April: the May run catches up.
        later = self._send(date(2025, 5, 2), self.monthly)
        self.assertEqual(
            self._periods(later),
            [
                (date(2025, 2, 1), date(2025, 2, 28)),
                (date(2025, 3, 1), date(2025, 3, 31)),
                (date(2025, 4, 1), date(2025, 4, 30)),
            ],
        )
        self.assertEqual(
            [(s.opening_units, s.closing_units) for s in later.sorted("date_from")],
            [(50, 46), (46, 74), (74, 72)],
        )
        messages = self._statement_messages(self.monthly)
        self.assertEqual(len(messages), 4)
        # A second run the same day, or the next day: nothing more.
        self.assertFalse(self._send(date(2025, 5, 2), self.monthly))
        self.assertFalse(self._send(date(2025, 5, 3), self.monthly))
        self.assertEqual(self._statement_messages(self.monthly), messages)
        self.assertEqual(len(self.monthly.statement_ids), 4)

    def test_no_statement_without_frequency_or_before_activation(self):
        none = self._statement_contract("none", False)
        draft = self._create_contract(
            self.customer,
            self.level_onsite,
            statement_frequency="monthly",
            state="draft",
        )
        draft.statement_start_date = date(2025, 1, 1)
        self.assertFalse(self._send(date(2025, 5, 2), none | draft))

    # === THE EMAIL AND ITS PDF === #

    def test_email_with_pdf_to_the_notified_contacts(self):
        self.assertEqual(self.monthly.notify_partner_ids, self.billing)
        [statement] = self._send(date(2025, 2, 3), self.monthly)
        self.assertTrue(statement.sent_date)
        [message] = self._statement_messages(self.monthly)
        self.assertEqual(message.partner_ids, self.billing)
        self.assertEqual(message.attachment_ids, statement.attachment_id)
        self.assertIn("statement of your retainer", message.subject)
        self.assertIn("support@quarterhour.example.com", message.email_from)
        body = message.body
        self.assertIn("Opening balance", body)
        self.assertIn("56 units", body)
        self.assertIn("50 units", body)
        mail = (
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        )
        self.assertEqual(mail.state, "outgoing", "queued, sent by the mail queue")
        self.assertEqual(mail.attachment_ids, statement.attachment_id)
        self.assertEqual(mail.recipient_ids, self.billing)
        attachment = statement.attachment_id
        self.assertEqual(
            (attachment.res_model, attachment.res_id),
            ("retainer.contract", self.monthly.id),
        )
        # Tests render reports as HTML (see the real PDF test below).
        text = attachment.raw.decode()
        self.assertIn(self.monthly.name, text)
        self.assertIn("Closing balance", text)
        self.assertIn(">50<", text.replace(" ", "").replace("\n", ""))
        self.assertNotIn(self.quarterly.name, text, "one retainer per PDF")

    def test_email_in_the_customer_language(self):
        # The addon's own French translation of its emails (i18n/fr.po).
        self.env["res.lang"]._activate_lang("fr_FR")
        # The addon's fr.po, written over any French value the templates
        # may already hold in this database (a plain update keeps those).
        importer = TranslationImporter(self.env.cr, verbose=False)
        importer.load_file(file_path("defining_retainer/i18n/fr.po"), "fr_FR")
        importer.save(force_overwrite=True)
        self.customer.lang = "fr_FR"
        template = self.env.ref(TEMPLATE)
        self.assertEqual(template.lang, "{{ object.partner_id.lang }}")
        self.assertFalse(template.partner_to)
        other = self._statement_contract(
            "monthly",
            date(2025, 1, 1),
            partner=self.env["res.partner"].create(
                {"name": "English Client", "email": "en@client.example.com"}
            ),
        )
        self._send(date(2025, 2, 3), self.monthly | other)
        [french] = self._statement_messages(self.monthly)
        self.assertIn("relevé de votre contrat", french.subject)
        self.assertIn("Solde de clôture", french.body)
        # The closing balance's time reads as a duration, in French too.
        self.assertIn("(12 h 30 min)", french.body)
        self.assertNotIn("12:30", french.body)
        [english] = self._statement_messages(other)
        self.assertIn("statement of your retainer", english.subject)
        self.assertIn("Closing balance", english.body)

    def test_optout_contact_gets_nothing_but_the_statement_exists(self):
        self.monthly.statement_optout_partner_ids = self.billing
        [statement] = self._send(date(2025, 2, 3), self.monthly)
        self.assertFalse(self._statement_messages(self.monthly))
        self.assertFalse(statement.sent_date)
        self.assertTrue(statement.attachment_id.raw)
        self.assertEqual((statement.opening_units, statement.closing_units), (56, 50))
        # And it is not sent later either.
        self.assertFalse(self._send(date(2025, 2, 4), self.monthly))

    def test_real_pdf_in_one_report_call_holds_the_balance(self):
        """wkhtmltopdf really runs (tests render HTML unless forced), once
        for both retainers, and the PDF is split per retainer."""
        self.env["ir.config_parameter"].set_param("report.url", "http://127.0.0.1:9")
        Statement = self.env["retainer.statement"].with_context(
            force_report_rendering=True
        )
        contracts = self.monthly | self.quarterly
        pdfs = Statement._retainer_render_pdfs(
            contracts, date(2025, 1, 1), date(2025, 3, 31)
        )
        self.assertEqual(set(pdfs), set(contracts.ids))
        for contract, closing in ((self.monthly, 74), (self.quarterly, 74)):
            pdf = pdfs[contract.id]
            self.assertTrue(pdf.startswith(b"%PDF"))
            text = " ".join(
                " ".join(page.extract_text().split())
                for page in PdfFileReader(io.BytesIO(pdf)).pages
            )
            self.assertIn(contract.name, text)
            self.assertIn("Closing balance", text)
            self.assertIn(f"Closing balance {closing} units", text)
            other = (contracts - contract).name
            self.assertNotIn(other, text)

    # === SWITCHING ON, RIGHTS, REFUSALS === #

    def test_switching_on_sends_no_back_statements(self):
        contract = self._statement_contract("none", False)
        self.assertFalse(contract.statement_start_date)
        with freeze_time("2025-05-10"):
            contract.statement_frequency = "monthly"
            self.assertEqual(contract.statement_start_date, date(2025, 5, 1))
            self.assertFalse(self._send(date(2025, 5, 10), contract))
        self.assertEqual(
            self._periods(self._send(date(2025, 6, 2), contract)),
            [(date(2025, 5, 1), date(2025, 5, 31))],
        )
        # Quarterly from mid-June: the rest of the quarter, no overlap.
        with freeze_time("2025-06-10"):
            contract.statement_frequency = "quarterly"
            self.assertEqual(contract.statement_start_date, date(2025, 6, 1))
        self.assertEqual(
            self._periods(self._send(date(2025, 7, 1), contract)),
            [(date(2025, 6, 1), date(2025, 6, 30))],
        )
        with freeze_time("2025-07-10"):
            contract.statement_frequency = "none"
        self.assertFalse(contract.statement_start_date)
        self.assertFalse(self._send(date(2025, 12, 1), contract))

    def test_company_default_and_activation(self):
        self.company.retainer_statement_frequency = "quarterly"
        with freeze_time("2025-05-10"):
            contract = self._create_contract(
                self.customer, self.level_onsite, state="draft"
            )
            self.assertEqual(contract.statement_frequency, "quarterly")
            self.assertEqual(contract.statement_start_date, date(2025, 4, 1))
        with freeze_time("2025-08-20"):
            contract.action_activate()
        # Periods spent in draft are not sent.
        self.assertEqual(contract.statement_start_date, date(2025, 7, 1))
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.retainer_statement_frequency, "quarterly")

    def test_users_only_read_statements(self):
        [statement] = self._send(date(2025, 2, 3), self.monthly)
        as_manager = statement.with_user(self.manager)
        self.assertEqual(as_manager.closing_units, 50)
        self.assertTrue(as_manager.action_download()["url"].endswith("download=true"))
        self.assertEqual(self.monthly.with_user(self.manager).statement_ids, statement)
        count = self.env["retainer.statement"].search_count([])
        with self.assertRaisesRegex(AccessError, "not allowed to modify"):
            as_manager.write({"closing_units": 99})
        with self.assertRaisesRegex(AccessError, "not allowed to create"):
            self.env["retainer.statement"].with_user(self.manager).create(
                {
                    "contract_id": self.monthly.id,
                    "date_from": date(2025, 2, 1),
                    "date_to": date(2025, 2, 28),
                }
            )
        with self.assertRaisesRegex(AccessError, "not allowed to delete"):
            as_manager.unlink()
        self.assertEqual(self.env["retainer.statement"].search_count([]), count)
        self.assertEqual(statement.closing_units, 50)

    def test_one_statement_per_period(self):
        [statement] = self._send(date(2025, 2, 3), self.monthly)
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaisesRegex(IntegrityError, "retainer_statement_period_uniq"),
        ):
            self.env["retainer.statement"].create(
                {
                    "contract_id": self.monthly.id,
                    "date_from": statement.date_from,
                    "date_to": statement.date_to,
                }
            )
            self.env.flush_all()

    def test_failing_statement_is_retried_and_does_not_stop_the_others(self):
        other = self._statement_contract("monthly", date(2025, 1, 1))
        template = self.env.ref(TEMPLATE)
        body = template.body_html
        # A template that fails to render for one retainer only.
        template.body_html = (
            f'<div><t t-out="object.name"/><t t-if="object.id == {self.monthly.id}" '
            't-out="object.no_such_field"/></div>'
        )
        with mute_logger(
            "odoo.addons.defining_retainer.models.retainer_statement",
            "odoo.addons.mail.models.mail_render_mixin",
        ):
            statements = self._send(date(2025, 2, 3), self.monthly | other)
            self.assertEqual(statements.contract_id, other, "the others are sent")
            self.assertTrue(statements.sent_date)
            self.assertFalse(self.monthly.statement_ids, "no statement, no PDF kept")
            activity = self.monthly.activity_ids.filtered(
                lambda a: a.summary == "Statement not sent"
            )
            self.assertEqual(activity.user_id, self.manager)
            self.assertIn("2025-01-01 - 2025-01-31", activity.note)
            # The next run tries again, and does not tell the manager twice.
            self.assertFalse(self._send(date(2025, 2, 4), self.monthly | other))
            self.assertEqual(
                len(
                    self.monthly.activity_ids.filtered(
                        lambda a: a.summary == activity.summary
                    )
                ),
                1,
            )
        template.body_html = body
        [statement] = self._send(date(2025, 2, 5), self.monthly)
        self.assertEqual(
            (statement.date_from, bool(statement.sent_date)), (date(2025, 1, 1), True)
        )

    def test_cron_record(self):
        cron = self.env.ref("defining_retainer.ir_cron_retainer_send_statements")
        self.assertEqual(cron.model_id.model, "retainer.statement")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self.assertEqual(cron.code.strip(), "model._cron_send_statements()")

    # === QUERIES === #

    def test_queries_per_retainer_do_not_grow(self):
        """The job's queries grow by a constant per retainer (its email),
        whatever the batch: 2, 4 and 6 more retainers."""
        counts = []
        # The first run loads the template, the report and their views.
        for extra in (2, 2, 4, 6):
            with self.env.cr.savepoint(flush=False) as savepoint:
                contracts = self.monthly | self.quarterly
                for _index in range(extra - 2):
                    contracts |= self._statement_contract("monthly", date(2025, 1, 1))
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.env["retainer.statement"]._retainer_send_statements(
                    today=date(2025, 2, 3), batch_size=50
                )
                self.env.flush_all()
                counts.append(self.env.cr.sql_log_count - before)
                savepoint.rollback()
                self.env.invalidate_all()
        counts = counts[1:]
        per_retainer = [(counts[1] - counts[0]) / 2, (counts[2] - counts[1]) / 2]
        self.assertAlmostEqual(per_retainer[0], per_retainer[1], delta=1, msg=counts)
