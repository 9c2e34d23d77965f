from datetime import date, timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestTimesheetDebit(RetainerCommon):
    def _live_debits(self, line):
        return self.env["retainer.ledger.entry"]._retainer_active_debits(line)

    def test_timesheet_debits_its_retainer(self):
        line = self._log(self.hm(3, 37), retainer_contact_type="remote")
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(line.unit_amount, self.hm(3, 37), "entered time is kept")
        self.assertEqual(line.retainer_units, 15)
        self.assertEqual(line.retainer_billed_hours, 3.75)
        debit = self._live_debits(line)
        self.assertRecordValues(
            debit,
            [
                {
                    "kind": "debit",
                    "units": -15,
                    "contract_id": self.contract.id,
                    "employee_id": self.employee.id,
                    "contact_type": "remote",
                    "date": line.date,
                    "billed_hours": 3.75,
                }
            ],
        )
        self.assertAlmostEqual(debit.entered_hours, self.hm(3, 37))
        self.assertEqual(self.contract.balance_units, 41)

    def test_spec_examples_through_timesheets(self):
        for (hours, minutes), units in (((3, 5), 12), ((0, 3), 1), ((7, 0), 28)):
            with self.subTest(entered=f"{hours}h{minutes:02d}"):
                line = self._log(self.hm(hours, minutes), retainer_contact_type="phone")
                self.assertEqual(line.retainer_units, units)
                self.assertEqual(self._live_debits(line).units, -units)

    def test_default_contact_type_and_multiplier(self):
        line = self._log(1.0)
        self.assertEqual(line.retainer_contact_type, "remote")
        self.assertEqual(line.retainer_units, 4)
        onsite = self._log(1.0, retainer_contact_type="onsite")
        # 1h at the on-site rate 1.5 = 1h30 billed: 6 units
        self.assertEqual(onsite.retainer_units, 6)
        self.assertEqual(onsite.unit_amount, 1.0)
        phone_contract = self._create_contract(self.customer, self.level_phone, units=8)
        phone_project = self._create_project(phone_contract)
        self.assertEqual(
            self._log(0.5, project=phone_project).retainer_contact_type, "phone"
        )

    def test_edit_reverses_and_reposts(self):
        line = self._log(self.hm(3, 37))
        first = self._live_debits(line)
        line.with_user(self.consultant).write({"unit_amount": self.hm(3, 5)})
        second = self._live_debits(line)
        self.assertNotEqual(first, second)
        self.assertEqual(first.reversal_entry_ids.units, 15)
        self.assertEqual(second.units, -12)
        self.assertEqual(self.contract.balance_units, 56 - 12)
        kinds = self.contract.ledger_entry_ids.sorted("id").mapped("kind")
        self.assertEqual(kinds, ["credit", "debit", "reversal", "debit"])
        # a description change re-prices nothing
        count = self._ledger_count()
        line.with_user(self.consultant).write({"name": "Server recovery"})
        self.assertEqual(self._ledger_count(), count)
        # a contact type change does
        line.with_user(self.consultant).write({"retainer_contact_type": "onsite"})
        self.assertEqual(self._live_debits(line).units, -19)  # 3h05 x 1.5 = 4h37.5

    def test_moving_to_plain_project_and_back(self):
        line = self._log(2.0)
        line.with_user(self.manager).write({"project_id": self.plain_project.id})
        self.assertFalse(line.retainer_id)
        self.assertFalse(self._live_debits(line))
        self.assertEqual(self.contract.balance_units, 56)
        line.with_user(self.manager).write({"project_id": self.project.id})
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(self._live_debits(line).units, -8)

    def test_delete_reverses(self):
        line = self._log(1.0)
        debit = self._live_debits(line)
        line.with_user(self.consultant).unlink()
        self.assertEqual(debit.reversal_entry_ids.units, 4)
        self.assertEqual(debit.reversal_entry_ids.date, debit.date)
        self.assertEqual(self.contract.balance_units, 56)
        self.assertEqual(debit.name, "Support work", "history survives deletion")

    def test_zero_duration_costs_nothing(self):
        line = self._log(0.0)
        self.assertEqual(line.retainer_units, 0)
        self.assertFalse(self._live_debits(line))
        line.with_user(self.consultant).write({"unit_amount": 0.5})
        self.assertEqual(self._live_debits(line).units, -2)

    def test_history_is_not_repriced(self):
        line = self._log(self.hm(3, 37))
        # policy change on the contract, level change, new block, project moved
        self.contract.write({"rounding_method": "up", "rounding_min_units": 4})
        self.level_onsite.write({"remote_multiplier": 2.0})
        self.contract._post_manual_entry("credit", 28, "New block")
        other = self._create_contract(self.customer, self.level_onsite, units=28)
        self.project.retainer_id = other
        self.env.invalidate_all()
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(line.retainer_units, 15)
        self.assertEqual(self._live_debits(line).units, -15)
        # new time goes to the retainer now on the project, at its policy
        new_line = self._log(0.25)
        self.assertEqual(new_line.retainer_id, other)

    def test_plain_timesheets_untouched(self):
        count = self._ledger_count()
        line = self._log(self.hm(3, 37), project=self.plain_project)
        self.assertFalse(line.retainer_id)
        self.assertFalse(line.retainer_contact_type)
        self.assertEqual(line.retainer_units, 0)
        line.write({"unit_amount": 30.0})  # stock Odoo accepts it; so do we
        line.write({"unit_amount": -1.0})
        line.unlink()
        self.assertEqual(self._ledger_count(), count)

    def test_no_double_billing_through_sale_timesheet(self):
        """A retainer timesheet on a project also sold by the hour never
        counts as delivered on the order line."""
        sol = self._sold_by_the_hour(self.project)
        line = self._log(2.0)
        self.assertFalse(line.so_line)
        self.assertEqual(self._live_debits(line).units, -8)
        sol.invalidate_recordset()
        self.assertEqual(sol.qty_delivered, 0.0)
        self.assertEqual(sol.qty_to_invoice, 0.0)
        # the same project without the retainer bills the hours, as stock Odoo
        self.project.retainer_id = False
        plain = self._log(2.0)
        self.assertEqual(plain.so_line, sol)
        sol.invalidate_recordset()
        self.assertEqual(sol.qty_delivered, 2.0)

    def test_bad_input_writes_nothing(self):
        count = self._ledger_count()
        other_contract = self._create_contract(
            self.other_customer, self.level_phone, units=8
        )
        count = self._ledger_count()
        cases = [
            (
                "negative duration",
                "cannot have a negative duration",
                {"unit_amount": -0.5},
            ),
            (
                "over 24 hours",
                r"cannot last more than 24 hours \(24 h 1 min entered\)",
                {"unit_amount": 24.02},
            ),
            (
                "contact type outside the level",
                "does not include On-site support",
                {
                    "project_id": self._create_project(other_contract).id,
                    "retainer_contact_type": "onsite",
                },
            ),
            (
                "retainer of another customer",
                "belongs to Elsewhere plc, not to Quarter Hour Ltd",
                {"retainer_id": other_contract.id},
            ),
        ]
        for label, message, vals in cases:
            with self.subTest(label):
                lines_before = self.env["account.analytic.line"].search_count([])
                with self.assertRaisesRegex(ValidationError, message):
                    self._log(vals.pop("unit_amount", 1.0), **vals)
                self.assertEqual(self._ledger_count(), count)
                self.assertEqual(
                    self.env["account.analytic.line"].search_count([]), lines_before
                )
        # 24h exactly is the longest entry accepted
        self.assertEqual(self._log(24.0).retainer_units, 96)

    def test_other_company_retainer_refused(self):
        """A timesheet of company A naming a retainer of company B is refused
        by the retainer's company rule. The user has an employee and may see
        both companies: nothing else can refuse the line."""
        company_b = self.env["res.company"].create({"name": "Other Co"})
        contract_b = self.env["retainer.contract"].create(
            {
                "partner_id": self.customer.id,
                "company_id": company_b.id,
                "level_id": self.level_onsite.id,
            }
        )
        self.manager.company_ids |= company_b
        count = self._ledger_count()
        lines_before = self.env["account.analytic.line"].search_count([])
        with self.assertRaisesRegex(
            ValidationError,
            rf"Timesheet Support work is in {self.company.name} but retainer "
            rf"{contract_b.name} belongs to Other Co\.",
        ):
            self._log(1.0, user=self.manager, retainer_id=contract_b.id)
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(
            self.env["account.analytic.line"].search_count([]), lines_before
        )
        # the same user logs on the company's own retainer
        self.assertEqual(self._log(1.0, user=self.manager).retainer_id, self.contract)

    def test_partner_change_to_another_customer_refused(self):
        """Changing the customer of a retainer timesheet re-validates it, as
        creating the same line would."""
        line = self._log(1.0)
        self.assertEqual(line.partner_id, self.customer)
        debit = self._live_debits(line)
        count = self._ledger_count()
        with self.assertRaisesRegex(
            ValidationError,
            rf"Retainer {self.contract.name} belongs to Quarter Hour Ltd, not to "
            r"Elsewhere plc\.",
        ):
            line.with_user(self.consultant).write(
                {"partner_id": self.other_customer.id}
            )
        self.assertEqual(line.partner_id, self.customer, "nothing written")
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(self._live_debits(line), debit)
        # a contact of the owner is the same customer: accepted, not re-priced
        line.with_user(self.consultant).write({"partner_id": self.customer_contact.id})
        self.assertEqual(line.partner_id, self.customer_contact)
        self.assertEqual(self._live_debits(line), debit)
        self.assertEqual(self._ledger_count(), count)

    def test_closed_or_suspended_retainer_refused(self):
        line = self._log(1.0)
        for action in ("action_suspend", "action_close"):
            with self.subTest(action):
                getattr(self.contract.with_user(self.manager), action)()
                count = self._ledger_count()
                with self.assertRaisesRegex(UserError, "cannot be logged"):
                    self._log(1.0)
                with self.assertRaisesRegex(UserError, "cannot be logged, changed"):
                    line.with_user(self.consultant).write({"unit_amount": 2.0})
                with self.assertRaisesRegex(UserError, "cannot be logged, changed"):
                    line.with_user(self.consultant).unlink()
                self.assertEqual(self._ledger_count(), count)
                self.contract.with_user(self.manager).action_reopen()
        self.assertTrue(line.exists())

    def test_overdraft_block(self):
        self.contract.overdraft_policy = "block"
        self._log(13.0)  # 52 of 56 units
        count = self._ledger_count()
        with self.assertRaisesRegex(UserError, r"4 units \(1 h\) left.*needs 8 units"):
            self._log(2.0)
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(self.contract.balance_units, 4)
        self._log(1.0)  # exactly the balance is fine
        self.assertEqual(self.contract.balance_units, 0)

    def test_overdraft_warn_notifies_once(self):
        self.contract.overdraft_policy = "warn"
        self._log(13.0)
        self.assertFalse(self.contract.activity_ids)
        self._log(2.0)
        self.assertEqual(self.contract.balance_units, -4)
        activity = self.contract.activity_ids.filtered(
            lambda a: a.summary == "Retainer overdrawn"
        )
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn("overdrawn", self.contract.message_ids[0].body)
        # The customer has no email address: the manager is told, once.
        self.assertEqual(len(self.contract.activity_ids - activity), 1)
        self._log(1.0)
        self.assertEqual(len(self.contract.activity_ids), 2, "no spam while overdrawn")

    def test_overdraft_allow_records_silently(self):
        self.contract.overdraft_policy = "allow"
        self._log(15.0)
        self.assertEqual(self.contract.balance_units, -4)
        self.assertFalse(self.contract.activity_ids)

    def test_usage_lock_date(self):
        old_day = fields.Date.today() - timedelta(days=10)
        line = self._log(1.0, date=old_day)
        self.contract.with_user(self.manager).usage_lock_date = (
            fields.Date.today() - timedelta(days=5)
        )
        count = self._ledger_count()
        with self.assertRaisesRegex(UserError, "locked"):
            line.with_user(self.consultant).write({"unit_amount": 2.0})
        with self.assertRaisesRegex(UserError, "locked"):
            line.with_user(self.consultant).unlink()
        with self.assertRaisesRegex(UserError, "locked"):
            self._log(1.0, date=old_day)
        with self.assertRaisesRegex(UserError, "locked"):
            self._log(1.0).with_user(self.consultant).write({"date": old_day})
        self.assertEqual(self._ledger_count(), count)
        self.assertTrue(line.readonly_timesheet)
        line.with_user(self.consultant).write({"name": "Typo fixed"})  # no usage change
        self._log(1.0, date=date.today())

    def test_usage_lock_date_edge(self):
        """The lock date itself is locked; the day after is open. For
        create, write (duration and date) and unlink."""
        lock = fields.Date.today() - timedelta(days=5)
        day_after = lock + timedelta(days=1)
        on_lock = self._log(1.0, date=lock)
        after = self._log(1.0, date=day_after)
        moved = self._log(1.0, date=day_after)
        self.contract.with_user(self.manager).usage_lock_date = lock
        count = self._ledger_count()
        message = rf"locked up to {lock}: time dated {lock} cannot be logged"
        with self.assertRaisesRegex(UserError, message):
            self._log(1.0, date=lock)
        with self.assertRaisesRegex(UserError, message):
            on_lock.with_user(self.consultant).write({"unit_amount": 2.0})
        with self.assertRaisesRegex(UserError, message):
            on_lock.with_user(self.consultant).write({"date": day_after})
        with self.assertRaisesRegex(UserError, message):
            moved.with_user(self.consultant).write({"date": lock})
        with self.assertRaisesRegex(UserError, message):
            on_lock.with_user(self.consultant).unlink()
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(on_lock.date, lock)
        self.assertEqual(moved.date, day_after)
        self.assertEqual(on_lock.unit_amount, 1.0)
        # the day after the lock date is open to all three
        created = self._log(0.5, date=day_after)
        self.assertEqual(self._live_debits(created).units, -2)
        after.with_user(self.consultant).write({"unit_amount": 2.0})
        self.assertEqual(self._live_debits(after).units, -8)
        debit = self._live_debits(moved)
        moved.with_user(self.consultant).unlink()
        self.assertEqual(debit.reversal_entry_ids.units, 4)
        self.assertEqual(self.contract.balance_units, 56 - 4 - 8 - 2)

    def test_batch_create_and_write(self):
        lines = (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .create(
                [
                    {
                        "project_id": self.project.id,
                        "name": f"Call {i}",
                        "unit_amount": 0.25,
                        "employee_id": self.employee.id,
                    }
                    for i in range(10)
                ]
                + [
                    {
                        "project_id": self.plain_project.id,
                        "name": "Internal",
                        "unit_amount": 1,
                        "employee_id": self.employee.id,
                    }
                ]
            )
        )
        self.assertEqual(self.contract.balance_units, 46)
        lines.write({"unit_amount": 0.5})
        self.assertEqual(self.contract.balance_units, 36)
        lines.unlink()
        self.assertEqual(self.contract.balance_units, 56)


@tagged("post_install", "-at_install", "defining_retainer")
class TestTimesheetMoves(RetainerCommon):
    """Time is charged to the retainer of its own project: moving recorded
    time off a retainer, onto one or to another one re-posts it, with the
    move's reason in the ledger, and needs a retainer manager. Logging new
    time is no move."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Both may move tasks between projects; only the lead manages
        # retainers.
        cls.project_consultant = new_test_user(
            cls.env,
            login="retainer_project_consultant",
            groups="hr_timesheet.group_hr_timesheet_user,project.group_project_user",
            name="Pat Consultant",
        )
        cls.env["hr.employee"].create(
            {"name": "Pat Consultant", "user_id": cls.project_consultant.id}
        )
        cls.lead = new_test_user(
            cls.env,
            login="retainer_lead",
            groups="defining_retainer.group_retainer_manager,"
            "hr_timesheet.group_hr_timesheet_approver,project.group_project_user",
            name="Lee Lead",
        )
        cls.other_contract = cls._create_contract(
            cls.customer, cls.level_onsite, units=28
        )
        cls.other_project = cls._create_project(cls.other_contract)
        cls.task = cls.env["project.task"].create(
            {"name": "Printer fleet", "project_id": cls.project.id}
        )
        cls.Ledger = cls.env["retainer.ledger.entry"]

    def _live_debits(self, line):
        return self.Ledger._retainer_active_debits(line)

    def _log_on_task(self, hours=2.0):
        return self._log(
            hours, user=self.project_consultant, task_id=self.task.id, project_id=False
        )

    def test_task_moved_off_the_retainer_gives_its_time_back(self):
        line = self._log_on_task()
        self.assertEqual(line.retainer_id, self.contract)
        debit = self._live_debits(line)
        self.assertEqual(self.contract.balance_units, 48)
        self.task.with_user(self.lead).project_id = self.plain_project
        self.env.invalidate_all()
        self.assertEqual(line.project_id, self.plain_project, "the time follows")
        self.assertFalse(line.retainer_id, "internal time on no retainer")
        self.assertEqual(line.retainer_units, 0)
        self.assertFalse(self._live_debits(line))
        self.assertEqual(self.contract.balance_units, 56)
        self.assertEqual(
            debit.reversal_entry_ids.reason,
            "Task Printer fleet moved to project Internal work by Lee Lead",
        )

    def test_task_moved_to_another_retainer(self):
        line = self._log_on_task()
        debit = self._live_debits(line)
        self.task.with_user(self.lead).project_id = self.other_project
        self.env.invalidate_all()
        self.assertEqual(line.retainer_id, self.other_contract)
        self.assertEqual(self._live_debits(line).contract_id, self.other_contract)
        self.assertEqual(self.contract.balance_units, 56)
        self.assertEqual(self.other_contract.balance_units, 20)
        self.assertIn(
            "moved to project Support Quarter Hour Ltd by Lee Lead",
            debit.reversal_entry_ids.reason,
        )
        # And onto the retainer again from internal work.
        self.task.with_user(self.lead).project_id = self.plain_project
        self.task.with_user(self.lead).project_id = self.project
        self.env.invalidate_all()
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(self._live_debits(line).units, -8)
        self.assertEqual(self.other_contract.balance_units, 28)

    def test_consultant_cannot_move_a_task_off_the_retainer(self):
        line = self._log_on_task()
        count = self._ledger_count()
        for target in (self.plain_project, self.other_project):
            with (
                self.subTest(target=target.name),
                self.assertRaisesRegex(
                    AccessError,
                    r"Task Printer fleet has time charged to retainer "
                    rf"{self.contract.name}.*Retainers: Manager",
                ),
            ):
                self.task.with_user(self.project_consultant).project_id = target
            self.env.invalidate_all()
            self.assertEqual(self.task.project_id, self.project)
            self.assertEqual(line.project_id, self.project)
            self.assertEqual(line.retainer_id, self.contract)
            self.assertEqual(self._ledger_count(), count)
        # A task without retainer time moves freely.
        free_task = self.env["project.task"].create(
            {"name": "Office move", "project_id": self.project.id}
        )
        free_task.with_user(self.project_consultant).project_id = self.plain_project
        self.assertEqual(free_task.project_id, self.plain_project)

    def test_consultant_cannot_move_a_timesheet_off_or_onto_a_retainer(self):
        line = self._log(2.0)
        plain = self._log(1.0, project=self.plain_project)
        count = self._ledger_count()
        cases = [
            (line, {"project_id": self.plain_project.id}, "no retainer"),
            (line, {"project_id": self.other_project.id}, self.other_contract.name),
            (plain, {"project_id": self.project.id}, self.contract.name),
        ]
        for timesheet, vals, target in cases:
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(
                    AccessError,
                    rf"Timesheet Support work of Casey Consultant .* to "
                    rf"(retainer )?{target}.*"
                    r"Retainers: Manager",
                ),
            ):
                timesheet.with_user(self.consultant).write(vals)
            self.env.invalidate_all()
            self.assertEqual(self._ledger_count(), count)
        self.assertEqual(line.project_id, self.project)
        self.assertEqual(line.retainer_id, self.contract)
        self.assertFalse(plain.retainer_id)
        # Logging new time on a retainer is no move.
        self.assertEqual(self._log(1.0).retainer_id, self.contract)

    def test_timesheet_moved_by_a_manager_leaves_a_reason(self):
        line = self._log(2.0)
        debit = self._live_debits(line)
        line.with_user(self.manager).write({"project_id": self.plain_project.id})
        self.assertFalse(line.retainer_id)
        self.assertEqual(
            debit.reversal_entry_ids.reason,
            "Moved to project Internal work by Morgan Manager",
        )

    def test_retainer_is_always_the_projects(self):
        line = self._log(2.0)
        count = self._ledger_count()
        with self.assertRaisesRegex(
            ValidationError,
            r"Timesheet Support work is on project Support Quarter Hour Ltd, so it "
            rf"is charged to retainer {self.contract.name}",
        ):
            line.with_user(self.manager).write({"retainer_id": self.other_contract.id})
        self.assertEqual(line.retainer_id, self.contract)
        self.assertEqual(self._ledger_count(), count)
