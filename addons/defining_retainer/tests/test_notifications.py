from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import BaseCase, tagged

from ..tools.alerts import crosses_low_balance, due_warning, parse_warning_days
from .common_notifications import NotificationsCommon

TODAY = date(2026, 3, 18)  # a Wednesday


@tagged("post_install", "-at_install", "defining_retainer")
class TestAlertTools(BaseCase):
    """The pure rules of the alerts (no database)."""

    def test_parse_warning_days(self):
        self.assertEqual(parse_warning_days("30,7"), (30, 7))
        self.assertEqual(parse_warning_days(" 7, 30 ,7,0"), (30, 7, 0))
        self.assertEqual(parse_warning_days(""), ())
        self.assertEqual(parse_warning_days(False), ())
        self.assertEqual(parse_warning_days("14,"), (14,))
        for text, wrong in (("30,-7", "-7"), ("7.5", "7.5"), ("a week", "a week")):
            with self.subTest(text=text), self.assertRaises(ValueError) as caught:
                parse_warning_days(text)
            self.assertEqual(caught.exception.args[0], wrong)

    def test_crosses_low_balance(self):
        for before, after, threshold, expected in [
            (30, 28, 28, True),  # at the threshold
            (29, -5, 28, True),
            (28, 20, 28, False),  # was not above it
            (40, 29, 28, False),  # still above
            (20, 30, 28, False),  # going up
            (30, 10, 0, False),  # alerts off
        ]:
            with self.subTest(before=before, after=after, threshold=threshold):
                self.assertEqual(
                    crosses_low_balance(before, after, threshold), expected
                )

    def test_due_warning(self):
        days = (30, 7)
        for days_left, sent, expected in [
            (40, (), None),  # not yet
            (30, (), 30),
            (29, (30,), None),  # sent yesterday
            (20, (), 30),  # a block bought 20 days before its expiry
            (7, (30,), 7),
            (7, (30, 7), None),
            (5, (), 7),  # late run: only the nearest missed one
            (5, (7,), None),
            (0, (), 7),
            (-1, (), None),  # expired
        ]:
            with self.subTest(days_left=days_left, sent=sent):
                self.assertEqual(due_warning(days_left, days, sent), expected)
        self.assertEqual(due_warning(0, (30, 7, 0), (30, 7)), 0)
        self.assertIsNone(due_warning(3, ()))


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestLowBalanceAlert(NotificationsCommon):
    def test_one_email_per_crossing(self):
        self._log(6.0)  # 24 units: 32 left, above 28
        self.assertFalse(self._alerts())
        self._log(2.0)  # 8 units: 24 left, crosses
        alert = self._alerts()
        self.assertEqual(len(alert), 1)
        self.assertIn("is running low", alert.subject)
        self.assertRegex(alert.body, r"<strong[^>]*>24 units</strong>")
        self.assertIn("(6 h) left", alert.body)  # 24 units of 15 minutes
        self.assertNotIn("06:00", alert.body)
        self.assertIn(self.contract.get_portal_url(), alert.body)
        self.assertEqual(alert.partner_ids, self.customer_contact)
        self.assertTrue(self.contract.low_balance_notified)
        activity = self._activities("Low balance")
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.manager)
        # 32 units used today: 24 units last 67 days, until Sunday 24 May.
        self.assertIn(
            "24 units left, about 47 working days at the current pace", activity.note
        )
        # Two more timesheets below the threshold: nothing more.
        self._log(1.0)
        self._log(1.0)
        self.assertEqual(len(self._alerts()), 1)
        self.assertEqual(len(self._activities("Low balance")), 1)
        # A top-up above the threshold re-arms it; the next crossing alerts.
        self._top_up(20)  # 36 left
        self.assertFalse(self.contract.low_balance_notified)
        self._log(1.0)  # 32: still above
        self.assertEqual(len(self._alerts()), 1)
        self._log(1.0)  # 28: at the threshold
        self.assertEqual(len(self._alerts()), 2)
        self.assertEqual(len(self._activities("Low balance")), 2)

    def test_one_email_for_a_batch_of_timesheets(self):
        self.env["account.analytic.line"].with_user(self.consultant).create(
            [
                {
                    "project_id": self.project.id,
                    "name": f"Incident {i}",
                    "unit_amount": 2.0,
                    "employee_id": self.employee.id,
                }
                for i in range(4)
            ]
        )
        self.assertEqual(self.contract.balance_units, 24)
        self.assertEqual(len(self._alerts()), 1)

    def test_reversal_above_the_threshold_rearms(self):
        self._log(6.0)
        timesheet = self._log(2.0)  # 24 left: alert
        timesheet.unlink()  # 32 left: re-armed
        self.assertFalse(self.contract.low_balance_notified)
        self._log(2.0)
        self.assertEqual(len(self._alerts()), 2)

    def test_no_alert_without_crossing_from_above(self):
        contract = self._create_contract(
            self.customer,
            self.level_onsite,
            units=20,
            notify_partner_ids=self.customer_contact.ids,
        )
        self.assertEqual(contract.low_balance_units, 28, "the company default")
        self._log(1.0, project=self._create_project(contract))
        self.assertFalse(self._alerts(contract))

    def test_alert_off(self):
        self.contract.low_balance_units = 0
        self._log(8.0)
        self.assertFalse(self._alerts())
        self.assertFalse(self._activities("Low balance"))

    def test_new_threshold_rearms(self):
        self._log(8.0)  # 24 left: alert
        self.contract.low_balance_units = 10
        self.assertFalse(self.contract.low_balance_notified)
        self._log(4.0)  # 8 left: crosses the new threshold
        self.assertEqual(len(self._alerts()), 2)

    def test_expiry_job_crossing_alerts(self):
        dated = self._create_contract(
            self.customer,
            self.level_onsite,
            notify_partner_ids=self.customer_contact.ids,
        )
        dated._post_manual_entry(
            "credit", 28, "Block", date=TODAY - timedelta(days=60), expiry_date=TODAY
        )
        dated._post_manual_entry("credit", 8, "Undated", date=TODAY)
        self.assertFalse(self._alerts(dated))
        with freeze_time(TODAY + timedelta(days=1)):
            self.env["retainer.contract"]._retainer_expire_blocks()
        self.assertEqual(dated.balance_units, 8)
        self.assertEqual(len(self._alerts(dated)), 1)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestAlertRecipients(NotificationsCommon):
    def test_contacts_minus_optouts_queued_from_the_company(self):
        Partner = self.env["res.partner"]
        other = Partner.create(
            {
                "name": "Olive Other",
                "parent_id": self.customer.id,
                "email": "olive@customer.example.com",
            }
        )
        quiet = Partner.create(
            {
                "name": "Quentin Quiet",
                "parent_id": self.customer.id,
                "email": "quentin@customer.example.com",
            }
        )
        self.contract.write(
            {
                "notify_partner_ids": (self.customer_contact | other | quiet).ids,
                "alert_optout_partner_ids": quiet.ids,
            }
        )
        self._log(8.0)
        alert = self._alerts()
        self.assertEqual(alert.partner_ids, self.customer_contact | other)
        self.assertEqual(alert.subtype_id, self.alert_subtype)
        self.assertIn("support@quarterhour.example.com", alert.email_from)
        mails = self._mails(alert)
        self.assertTrue(mails)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "queued, not sent")
        self.assertEqual(mails.recipient_ids, self.customer_contact | other)

    def test_contact_without_email(self):
        self.customer_contact.email = False
        timesheet = self._log(8.0)
        self.assertTrue(timesheet.exists())
        self.assertTrue(self.Ledger._retainer_active_debits(timesheet))
        self.assertFalse(self._alerts())
        unreachable = self._activities("Contacts without email address")
        self.assertEqual(len(unreachable), 1)
        self.assertIn("Quinn Contact", unreachable.note)
        self.assertEqual(unreachable.user_id, self.manager)
        self.assertEqual(len(self._activities("Low balance")), 1)

    def test_customer_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        template = self.env.ref("defining_retainer.mail_template_retainer_low_balance")
        template.with_context(lang="fr_FR").subject = "Solde bas : {{ object.name }}"
        french = self.env["res.partner"].create(
            {"name": "Client français", "is_company": True, "lang": "fr_FR"}
        )
        contact = self.env["res.partner"].create(
            {
                "name": "Camille",
                "parent_id": french.id,
                "email": "camille@client.example.com",
                "lang": "en_US",  # the customer's language counts
            }
        )
        contract = self._create_contract(
            french, self.level_onsite, units=32, notify_partner_ids=contact.ids
        )
        self._log(2.0, project=self._create_project(contract))
        self.assertEqual(self._alerts(contract).subject, f"Solde bas : {contract.name}")
        # The English customer gets the English subject.
        self._log(8.0)
        self.assertIn("is running low", self._alerts().subject)

    def test_broken_template_keeps_the_posting(self):
        template = self.env.ref("defining_retainer.mail_template_retainer_low_balance")
        template.subject = "{{ object.no_such_field }}"
        count = self._ledger_count()
        with self.assertLogs(
            "odoo.addons.defining_retainer.models.retainer_contract", "ERROR"
        ):
            timesheet = self._log(8.0)
        self.assertTrue(timesheet.exists())
        self.assertEqual(timesheet.retainer_units, 32)
        self.assertEqual(self._ledger_count(), count + 1)
        self.assertTrue(self.Ledger._retainer_active_debits(timesheet))
        self.assertEqual(self.contract.balance_units, 24)
        self.assertFalse(self._alerts())
        failure = self._activities("Customer email not sent")
        self.assertEqual(len(failure), 1)
        self.assertIn("Retainer: low balance", failure.note)
        self.assertEqual(failure.user_id, self.manager)
        # The account manager still hears about the low balance, once.
        self.assertEqual(len(self._activities("Low balance")), 1)
        self.assertTrue(self.contract.low_balance_notified)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestNotifiedContactsOfTheCustomer(NotificationsCommon):
    """Only the retainer's customer's own contacts get its emails: checked
    when they are set and again when an email is sent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.stranger = Partner.create(
            {
                "name": "Sam Stranger",
                "parent_id": cls.other_customer.id,
                "email": "sam@elsewhere.example.com",
            }
        )
        cls.colleague = Partner.create(
            {
                "name": "Olive Other",
                "parent_id": cls.customer.id,
                "email": "olive@customer.example.com",
            }
        )

    def test_another_customers_contact_is_refused(self):
        followers = self.contract.message_partner_ids
        for field in (
            "notify_partner_ids",
            "alert_optout_partner_ids",
            "statement_optout_partner_ids",
        ):
            with (
                self.subTest(field=field),
                self.assertRaisesRegex(
                    ValidationError, r"Sam Stranger.*not a contact of Quarter Hour"
                ),
            ):
                self.contract.write({field: [Command.link(self.stranger.id)]})
            self.assertNotIn(self.stranger, self.contract[field])
        self.assertEqual(self.contract.message_partner_ids, followers)
        with self.assertRaisesRegex(ValidationError, "Sam Stranger"):
            self._create_contract(
                self.customer, self.level_onsite, notify_partner_ids=self.stranger.ids
            )
        # The customer itself and its own contacts are accepted.
        self.contract.write(
            {
                "notify_partner_ids": [
                    Command.link(self.customer.id),
                    Command.link(self.colleague.id),
                ],
                "statement_optout_partner_ids": [Command.link(self.colleague.id)],
            }
        )
        self.assertIn(self.colleague, self.contract.message_partner_ids)

    def test_a_contact_who_moved_gets_no_more_emails(self):
        self.contract.notify_partner_ids = [Command.link(self.colleague.id)]
        self.colleague.parent_id = self.other_customer
        for kind in ("alert", "statement"):
            with self.subTest(kind=kind):
                reachable, unreachable = self.contract._retainer_mail_recipients(kind)
                self.assertEqual(reachable, self.customer_contact)
                self.assertFalse(unreachable)
        self._log(8.0)
        alert = self._alerts()
        self.assertEqual(alert.partner_ids, self.customer_contact)
        self.assertEqual(self._mails(alert).recipient_ids, self.customer_contact)
        # The account manager hears that the contact was left out.
        moved = self._activities("Contacts no longer with the customer")
        self.assertEqual(len(moved), 1)
        self.assertIn("Olive Other", moved.note)
        self.assertEqual(moved.user_id, self.manager)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestOverdraftAlert(NotificationsCommon):
    def _overdraft_alerts(self):
        return self._alerts().filtered(lambda m: "is overdrawn" in m.subject)

    def test_overdraft_email_once_per_overdraft(self):
        self.company.retainer_overdraft_mode = "invoice"
        self.company.retainer_overdraft_auto_invoice = True
        self.contract.overdraft_policy = "warn"
        self._log(15.0)  # 60 units of 56: 4 overdrawn
        alert = self._overdraft_alerts()
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.partner_ids, self.customer_contact)
        body = alert.body.replace("</t>", "").replace("<t>", "")
        self.assertIn("4 units", body)
        self.assertIn("(1 h) of support", body)
        self.assertNotIn("01:00", body)
        self.assertIn("invoiced at the start of next month", body)
        # The low balance it crossed on the way is in the same email.
        self.assertEqual(len(self._alerts()), 1)
        self.assertTrue(self.contract.low_balance_notified)
        self._log(1.0)
        self._log(1.0)
        self.assertEqual(len(self._alerts()), 1, "once per overdraft")
        self._top_up(20)  # 8 left
        self._log(3.0)  # -4 again: a new overdraft
        self.assertEqual(len(self._overdraft_alerts()), 2)

    def test_overdraft_netted_or_invoiced_by_hand(self):
        for mode, auto, text in (
            ("net", False, "deducted from your next top-up"),
            ("invoice", False, "your account manager will invoice"),
        ):
            with self.subTest(mode=mode):
                self.company.write(
                    {
                        "retainer_overdraft_mode": mode,
                        "retainer_overdraft_auto_invoice": auto,
                    }
                )
                contract = self._create_contract(
                    self.customer,
                    self.level_onsite,
                    units=8,
                    overdraft_policy="warn",
                    notify_partner_ids=self.customer_contact.ids,
                )
                self._log(3.0, project=self._create_project(contract))  # -4
                alert = self._alerts(contract)
                self.assertEqual(len(alert), 1)
                self.assertIn("is overdrawn", alert.subject)
                self.assertIn(text, alert.body)

    def test_allow_policy_sends_no_overdraft_email(self):
        self.contract.overdraft_policy = "allow"
        self._log(15.0)
        self.assertFalse(self._overdraft_alerts())
        # Not overdrawn-warned: the low balance alert is the one email.
        self.assertEqual(len(self._alerts()), 1)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestExpiryWarnings(NotificationsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.expiry = TODAY + timedelta(days=40)
        cls.block = cls.contract._post_manual_entry(
            "credit", 10, "Spring block", date=TODAY, expiry_date=cls.expiry
        )
        cls.Contract = cls.env["retainer.contract"]

    def _run(self, days_before):
        return self.Contract._retainer_send_expiry_warnings(
            today=self.expiry - timedelta(days=days_before)
        )

    def _expiry_alerts(self):
        return self._alerts().filtered(lambda m: "expire on" in m.subject)

    def test_warnings_at_30_and_7_days_once(self):
        self.assertFalse(self._run(31))
        warning = self._run(30)
        self.assertEqual(len(warning), 1)
        self.assertEqual(
            (warning.block_entry_id, warning.warning_days, warning.units),
            (self.block, 30, 10),
        )
        alert = self._expiry_alerts()
        self.assertEqual(len(alert), 1)
        self.assertIn("10 units of your retainer", alert.subject)
        self.assertIn("expire on 04/27/2026", alert.subject)
        self.assertEqual(alert.partner_ids, self.customer_contact)
        self.assertEqual(self._mails(alert).state, "outgoing")
        # A second run, the day after: nothing.
        self.assertFalse(self._run(30))
        self.assertFalse(self._run(29))
        self.assertEqual(len(self._expiry_alerts()), 1)
        self.assertEqual(self._run(7).warning_days, 7)
        self.assertFalse(self._run(7))
        self.assertFalse(self._run(1))
        self.assertEqual(len(self._expiry_alerts()), 2)
        self.assertEqual(
            self.contract.expiry_warning_ids.mapped("warning_days"), [7, 30]
        )

    def test_a_concurrent_run_inserts_nothing_twice(self):
        # Another server that read the same due warning before this run
        # committed: its insert finds the warning recorded and sends nothing.
        vals = {
            "contract_id": self.contract.id,
            "block_entry_id": self.block.id,
            "warning_days": 30,
            "expiry_date": self.expiry,
            "units": 10,
        }
        ExpiryWarning = self.env["retainer.expiry.warning"]
        self.assertEqual(len(ExpiryWarning._insert_once([vals])), 1)
        self.assertFalse(ExpiryWarning._insert_once([vals]))
        self.assertEqual(
            ExpiryWarning.search_count([("block_entry_id", "=", self.block.id)]), 1
        )

    def test_late_run_sends_the_nearest_warning_only(self):
        warning = self._run(5)
        self.assertEqual(warning.warning_days, 7)
        self.assertEqual(len(self._expiry_alerts()), 1)
        self.assertFalse(self._run(4))

    def test_units_left_and_used_blocks(self):
        self._log(1.0)  # 4 units, from the block expiring first
        self.assertEqual(self._run(30).units, 6)
        self.assertIn("6 units", self._expiry_alerts().subject)
        self._log(2.0)  # the block is used up
        self.assertFalse(self._run(7))

    def test_company_setting(self):
        self.company.retainer_expiry_warning_days = "14"
        self.assertFalse(self._run(30))
        self.assertEqual(self._run(14).warning_days, 14)
        self.company.retainer_expiry_warning_days = ""
        self.assertFalse(self._run(0))

    def test_cron_exists(self):
        cron = self.env.ref("defining_retainer.ir_cron_retainer_expiry_warnings")
        self.assertEqual(cron.code, "model._cron_send_expiry_warnings()")


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestAlertSettings(NotificationsCommon):
    def test_negative_thresholds_and_days_refused(self):
        with self.assertRaisesRegex(
            ValidationError, "low balance alert of .* cannot be negative"
        ):
            self.company.retainer_low_balance_units = -1
        for value, wrong in (("30,-7", "-7"), ("one week", "one week")):
            with (
                self.subTest(value=value),
                self.assertRaisesRegex(
                    ValidationError,
                    f'expiry warnings of .* must be whole numbers .*: "{wrong}" is not',
                ),
            ):
                self.company.retainer_expiry_warning_days = value
        with self.assertRaisesRegex(
            ValidationError, "low balance alert cannot be negative"
        ):
            self.contract.low_balance_units = -5
        self.assertEqual(self.contract.low_balance_units, 28)
        self.assertEqual(self.company.retainer_expiry_warning_days, "30,7")

    def test_settings(self):
        settings = self.env["res.config.settings"].create(
            {
                "retainer_low_balance_units": 14,
                "retainer_expiry_warning_days": "60, 30",
            }
        )
        settings.execute()
        self.assertEqual(self.company.retainer_low_balance_units, 14)
        self.assertEqual(self.company._retainer_expiry_warning_days(), (60, 30))
        contract = self._create_contract(self.customer, self.level_phone)
        self.assertEqual(contract.low_balance_units, 14)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time(TODAY)
class TestAlertQueries(NotificationsCommon):
    """Checking the thresholds costs a constant number of queries per
    posting batch: one email per retainer crossing, not per timesheet."""

    def _retainers(self, count, units, **vals):
        projects = self.env["project.project"]
        for _i in range(count):
            contract = self._create_contract(
                self.customer,
                self.level_onsite,
                units=units,
                notify_partner_ids=self.customer_contact.ids,
                **vals,
            )
            projects |= self._create_project(contract)
        return projects

    def _queries(self, projects, per_project=3):
        vals = [
            {
                "project_id": project.id,
                "name": f"Incident {i}",
                "unit_amount": 1.0,
                "employee_id": self.employee.id,
            }
            for project in projects
            for i in range(per_project)
        ]
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        self.env["account.analytic.line"].create(vals)
        self.env.flush_all()
        return self.cr.sql_log_count - before

    def test_checking_costs_no_query_per_retainer(self):
        self._queries(self._retainers(2, 40))  # warm the caches
        for policy in ("warn", "allow"):
            extra = {}
            for count in (1, 10):
                off = self._queries(
                    self._retainers(
                        count, 1000, low_balance_units=0, overdraft_policy=policy
                    )
                )
                on = self._queries(
                    self._retainers(count, 1000, overdraft_policy=policy)
                )
                extra[count] = on - off
            with self.subTest(policy=policy):
                # Warned retainers read their balances anyway: no query
                # more; others read them once for the batch.
                if policy == "warn":
                    self.assertEqual(extra[1], 0)
                else:
                    self.assertLessEqual(extra[1], 2)
                self.assertEqual(extra[10], extra[1], f"{policy}: {extra}")

    def test_one_email_per_crossing_retainer_not_per_timesheet(self):
        self._queries(self._retainers(2, 40))  # warm the caches
        figures = {}
        for count in (1, 10):
            calm = self._queries(self._retainers(count, 1000))
            for per_project in (3, 9):
                projects = self._retainers(count, 40)
                crossing = self._queries(projects, per_project)
                self.assertEqual(
                    len(self._alerts(projects.retainer_id)), count, "one per retainer"
                )
                figures[count, per_project] = crossing - calm
        # More timesheets crossing: no query more.
        self.assertEqual(figures[1, 3], figures[1, 9], figures)
        self.assertEqual(figures[10, 3], figures[10, 9], figures)
        # Each retainer that crosses costs its email and activity, the same
        # for each: no query per retainer beyond them.
        self.assertEqual(figures[10, 3], 10 * figures[1, 3], figures)
