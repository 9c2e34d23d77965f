from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from odoo.tools import SQL

from ..models.account_analytic_line import RETAINER_USAGE_FIELDS, AccountAnalyticLine
from .common import RetainerCommon


class IncidentCommon(RetainerCommon):
    """A retainer of 56 units rounding each incident once (default policy:
    15-minute units, 5 minutes of grace, at least one unit) and two tasks,
    the incidents of its project."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.incident_contract = cls._create_contract(
            cls.customer, cls.level_onsite, units=56, rounding_scope="incident"
        )
        cls.incident_project = cls._create_project(cls.incident_contract)
        Task = cls.env["project.task"]
        cls.task = Task.create(
            {"name": "Mail server down", "project_id": cls.incident_project.id}
        )
        cls.other_task = Task.create(
            {"name": "Printer jammed", "project_id": cls.incident_project.id}
        )

    def _on(self, task, minutes, **vals):
        """Log ``minutes`` of remote work on ``task`` (False: no task)."""
        defaults = {
            "task_id": task.id if task else False,
            "retainer_contact_type": "remote",
        }
        vals = defaults | vals
        return self._log(minutes / 60, project=self.incident_project, **vals)

    def _debits(self, task=None, ref=None):
        """Live debits of an incident, oldest first."""
        ref = ref or f"project.task,{(task or self.task).id}"
        return self.env["retainer.ledger.entry"]._retainer_active_incident_debits(
            self.incident_contract.ids, [ref]
        )

    def _charged(self, task=None, ref=None):
        return -sum(self._debits(task, ref).mapped("units"))

    def _incident_entries(self):
        return self.env["retainer.ledger.entry"].search(
            [("contract_id", "=", self.incident_contract.id), ("kind", "!=", "credit")],
            order="id",
        )


@tagged("post_install", "-at_install", "defining_retainer")
class TestIncidentRounding(IncidentCommon):
    def test_45_45_5_minutes_cost_6_units_not_7(self):
        call = self._on(self.task, 45)
        remote = self._on(self.task, 45)
        follow_up = self._on(self.task, 5)
        debits = self._debits()
        # 0:45 is 3 units; 1:30 is 6 (3 more); 1:35 is still 6: no debit.
        self.assertRecordValues(
            debits,
            [
                {
                    "units": -3,
                    "timesheet_id": call.id,
                    "incident_ref": f"project.task,{self.task.id}",
                    "rounding_scope": "incident",
                    "date": call.date,
                },
                {
                    "units": -3,
                    "timesheet_id": remote.id,
                    "incident_ref": f"project.task,{self.task.id}",
                    "rounding_scope": "incident",
                    "date": remote.date,
                },
            ],
        )
        self.assertEqual(self.incident_contract.balance_units, 50)
        self.assertEqual(
            follow_up.retainer_incident_ref, f"project.task,{self.task.id}"
        )
        # Per entry the same time costs 7 units.
        self.assertEqual(sum((call | remote | follow_up).mapped("retainer_units")), 7)
        # The debits' entered time adds up to the incident's.
        self.assertAlmostEqual(sum(debits.mapped("entered_hours")), 1.5)

    def test_five_4_minute_calls_cost_one_unit(self):
        for _call in range(5):
            self._on(self.task, 4)
        self.assertEqual(self._charged(), 1)
        self.assertEqual(len(self._debits()), 1)
        self.assertEqual(self.incident_contract.balance_units, 55)

    def test_3h37_logged_as_2h00_and_1h37(self):
        self._on(self.task, 120)
        self._on(self.task, 97)
        self.assertEqual(self._debits().mapped("units"), [-8, -7])
        self.assertEqual(self._charged(), 15)  # 3h45, as the seed bills it

    def test_edit_lowers_after_another_line(self):
        first = self._on(self.task, 40)  # 3 units
        second = self._on(self.task, 45)  # 1:25: 6 units, 3 more
        first_debit = self._debits()[0]
        first.with_user(self.consultant).write({"unit_amount": 10 / 60})
        # 0:55 is 4 units: the first line's own debit is reversed and the
        # incident's shortfall (1) posted again on it.
        self.assertEqual(self._charged(), 4)
        self.assertTrue(first_debit.reversal_entry_ids)
        self.assertRecordValues(
            self._debits(),
            [
                {"units": -3, "timesheet_id": second.id, "date": second.date},
                {"units": -1, "timesheet_id": first.id, "date": first.date},
            ],
        )
        self.assertEqual(
            self._incident_entries().mapped("kind"),
            ["debit", "debit", "reversal", "debit"],
        )
        self.assertEqual(self.incident_contract.balance_units, 52)

    def test_delete_re_targets_the_incident(self):
        self._on(self.task, 45)
        extra = self._on(self.task, 45)
        self.assertEqual(self._charged(), 6)
        extra.with_user(self.consultant).unlink()
        self.assertEqual(self._charged(), 3)
        self.assertEqual(self.incident_contract.balance_units, 53)
        reversal = self._incident_entries().filtered(lambda e: e.kind == "reversal")
        self.assertEqual(reversal.units, 3)
        self.assertEqual(reversal.reason, "Timesheet deleted")

    def test_line_moved_to_another_task_re_targets_both(self):
        self._on(self.task, 45)
        moved = self._on(self.task, 45)
        self._on(self.other_task, 20)
        self.assertEqual((self._charged(), self._charged(self.other_task)), (6, 1))
        moved.with_user(self.consultant).write({"task_id": self.other_task.id})
        # 0:45 left is 3 units; 1:05 on the other task is 4.
        self.assertEqual((self._charged(), self._charged(self.other_task)), (3, 4))
        self.assertEqual(
            moved.retainer_incident_ref, f"project.task,{self.other_task.id}"
        )
        self.assertEqual(self.incident_contract.balance_units, 56 - 7)

    def test_line_moved_to_a_plain_project_leaves_the_incident(self):
        self._on(self.task, 45)
        moved = self._on(self.task, 45)
        self.assertEqual(self._charged(), 6)
        moved.with_user(self.manager).write(
            {"project_id": self.plain_project.id, "task_id": False}
        )
        self.assertEqual(self._charged(), 3)
        self.assertFalse(moved.retainer_incident_ref)
        self.assertEqual(self.incident_contract.balance_units, 53)

    def test_line_moved_to_another_retainer_re_targets_both(self):
        other_contract = self._create_contract(
            self.customer, self.level_onsite, units=8, rounding_scope="incident"
        )
        other_project = self._create_project(other_contract)
        other_task = self.env["project.task"].create(
            {"name": "Elsewhere", "project_id": other_project.id}
        )
        self._on(self.task, 45)
        moved = self._on(self.task, 45)
        moved.with_user(self.manager).write(
            {"project_id": other_project.id, "task_id": other_task.id}
        )
        self.assertEqual(moved.retainer_id, other_contract)
        self.assertEqual(self._charged(), 3)
        self.assertEqual(self.incident_contract.balance_units, 53)
        self.assertEqual(other_contract.balance_units, 5)
        self.assertEqual(moved.retainer_incident_ref, f"project.task,{other_task.id}")

    def test_line_taken_off_its_task_is_an_incident_of_its_own(self):
        self._on(self.task, 4)
        line = self._on(self.task, 4)
        self.assertEqual(self._charged(), 1)
        line.with_user(self.consultant).write({"task_id": False})
        ref = f"account.analytic.line,{line.id}"
        self.assertEqual(line.retainer_incident_ref, ref)
        self.assertEqual((self._charged(), self._charged(ref=ref)), (1, 1))

    def test_contact_type_weights_each_line(self):
        line = self._on(self.task, 30)  # 2 units
        self._on(self.task, 30)  # 1:00: 4 units
        line.with_user(self.consultant).write({"retainer_contact_type": "onsite"})
        # 0:30 x 1.5 + 0:30 = 1:15: 5 units.
        self.assertEqual(self._charged(), 5)

    def test_line_without_task_is_its_own_incident(self):
        line = self._on(False, 4)
        self._on(False, 4)
        ref = f"account.analytic.line,{line.id}"
        self.assertEqual(line.retainer_incident_ref, ref)
        self.assertEqual(self._charged(ref=ref), 1)
        self.assertEqual(self.incident_contract.balance_units, 54)

    def test_date_change_moves_the_lines_debits(self):
        line = self._on(self.task, 45)
        earlier = line.date - timedelta(days=3)
        line.with_user(self.consultant).write({"date": earlier})
        self.assertRecordValues(self._debits(), [{"units": -3, "date": earlier}])
        self.assertEqual(self._charged(), 3)

    def test_minimum_applies_once_per_incident(self):
        self.incident_contract.write({"rounding_min_units": 2, "rounding_method": "up"})
        for _call in range(3):
            self._on(self.task, 1)
        self.assertEqual(self._charged(), 2)

    def test_outside_level_billing_stays_per_line(self):
        self.company.retainer_outside_level = "bill"
        self.incident_contract.level_id = self.level_phone
        phone = self._on(self.task, 10, retainer_contact_type="phone")
        onsite = self._log(
            2.0,
            project=self.incident_project,
            task_id=self.task.id,
            retainer_contact_type="onsite",
        )
        self.assertTrue(onsite.retainer_billed_outside)
        self.assertFalse(phone.retainer_billed_outside)
        # Only the phone call counts: 0:10 is one unit.
        self.assertEqual(self._charged(), 1)

    def test_locked_period_lowering_posts_after_the_lock(self):
        today = fields.Date.context_today(self.env["retainer.ledger.entry"])
        recent = self._on(self.task, 20, date=today - timedelta(days=2))  # 1
        # Logged late, dated earlier: 0:40 is 3 units, 2 more dated then.
        late = self._on(self.task, 20, date=today - timedelta(days=15))
        self.assertEqual(self._debits().mapped("units"), [-1, -2])
        lock = today - timedelta(days=10)
        self.incident_contract.with_user(self.manager).usage_lock_date = lock
        recent_date = recent.date
        recent.with_user(self.consultant).unlink()
        # 0:20 is one unit: both debits are reversed, the one in the locked
        # period the day after the lock; one unit is charged again on the
        # deleted line's date.
        self.assertEqual(self._charged(), 1)
        reversals = self._incident_entries().filtered(lambda e: e.kind == "reversal")
        self.assertEqual(
            sorted(reversals.mapped("date")), [lock + timedelta(days=1), recent_date]
        )
        self.assertRecordValues(self._debits(), [{"units": -1, "date": recent_date}])
        # Nothing in the locked period changed.
        locked = self._incident_entries().filtered(lambda e: e.date <= lock)
        self.assertEqual(locked.mapped("units"), [-2])
        self.assertTrue(late.exists())

    def test_line_shows_its_delta_and_the_incident_total(self):
        call = self._on(self.task, 45)
        self._on(self.task, 45)
        follow_up = self._on(self.task, 5)
        self.env.invalidate_all()
        self.assertRecordValues(
            call | follow_up,
            [
                {"retainer_charged_units": 3, "retainer_incident_units": 6},
                {"retainer_charged_units": 0, "retainer_incident_units": 6},
            ],
        )
        self.assertAlmostEqual(follow_up.retainer_incident_hours, 95 / 60)
        self.assertEqual(
            follow_up.retainer_incident_summary,
            "This entry: 0 units, incident total 6 units for 1 h 35 min",
        )
        # A line rounded entry by entry shows what it costs, no incident.
        entry = self._log(45 / 60, retainer_contact_type="remote")
        self.assertRecordValues(
            entry,
            [
                {
                    "retainer_charged_units": 3,
                    "retainer_incident_units": 3,
                    "retainer_incident_summary": False,
                }
            ],
        )

    def test_overdraft_warning_uses_the_incident_delta(self):
        contract = self._create_contract(
            self.customer,
            self.level_onsite,
            units=1,
            rounding_scope="incident",
            overdraft_policy="block",
        )
        project = self._create_project(contract)
        task = self.env["project.task"].create(
            {"name": "Call back", "project_id": project.id}
        )
        self._log(4 / 60, project=project, task_id=task.id)
        self.assertEqual(contract.balance_units, 0)
        Line = self.env["account.analytic.line"].with_user(self.consultant)

        def draft(task):
            return Line.new(
                {
                    "project_id": project.id,
                    "task_id": task.id,
                    "employee_id": self.employee.id,
                    "unit_amount": 4 / 60,
                    "retainer_contact_type": "remote",
                }
            )

        # Another call on the incident: 0:08 is still one unit, nothing to
        # warn about, though the call alone would cost one.
        same = draft(task)
        self.assertEqual(same.retainer_units, 1)
        self.assertEqual(same._retainer_incident_delta(), 0)
        self.assertFalse(same._retainer_overdraft_warning())
        # A call on a new incident costs its unit: saving will be refused.
        other = draft(
            self.env["project.task"].create({"name": "New", "project_id": project.id})
        )
        self.assertEqual(other._retainer_incident_delta(), 1)
        self.assertIn("saving will be refused", other._retainer_overdraft_warning())

    def test_usage_report_groups_by_incident(self):
        self._on(self.task, 45)
        self._on(self.task, 45)
        self._on(self.task, 5)
        self._on(self.other_task, 20)
        groups = self.env["retainer.usage.report"]._read_group(
            [("contract_id", "=", self.incident_contract.id)],
            ["incident_ref", "incident"],
            ["units:sum"],
        )
        self.assertEqual(
            sorted(groups),
            sorted(
                [
                    (f"project.task,{self.task.id}", "Mail server down", 6),
                    (f"project.task,{self.other_task.id}", "Printer jammed", 1),
                ]
            ),
        )

    def test_batch_of_many_incidents(self):
        tasks = self.env["project.task"].create(
            [
                {"name": f"Incident {i}", "project_id": self.incident_project.id}
                for i in range(5)
            ]
        )
        self.env["account.analytic.line"].with_user(self.consultant).create(
            [
                {
                    "project_id": self.incident_project.id,
                    "task_id": task.id,
                    "name": "Call",
                    "unit_amount": 4 / 60,
                    "employee_id": self.employee.id,
                    "retainer_contact_type": "remote",
                }
                for task in tasks
                for _call in range(5)
            ]
        )
        for task in tasks:
            self.assertEqual(self._charged(task), 1)
        self.assertEqual(self.incident_contract.balance_units, 51)


@tagged("post_install", "-at_install", "defining_retainer")
class TestIncidentScope(IncidentCommon):
    def test_company_default_and_new_retainers_round_each_entry(self):
        self.assertEqual(self.env["res.company"].new().retainer_rounding_scope, "entry")
        self.assertEqual(self.company.retainer_rounding_scope, "entry")
        contract = self._create_contract(self.customer, self.level_onsite, units=8)
        self.assertEqual(contract.rounding_scope, "entry")
        line = self._log(45 / 60, project=self._create_project(contract))
        self.assertRecordValues(
            self.env["retainer.ledger.entry"]._retainer_active_debits(line),
            [
                {
                    "units": -3,
                    "rounding_scope": "entry",
                    "incident_ref": f"account.analytic.line,{line.id}",
                }
            ],
        )
        self.assertFalse(line.retainer_incident_ref)

    def test_company_default_is_taken_by_new_retainers(self):
        self.company.retainer_rounding_scope = "incident"
        contract = self._create_contract(self.customer, self.level_onsite)
        self.assertEqual(contract.rounding_scope, "incident")

    def test_settings_write_the_company_default(self):
        settings = self.env["res.config.settings"].create(
            {"retainer_rounding_scope": "incident"}
        )
        settings.execute()
        self.assertEqual(self.company.retainer_rounding_scope, "incident")

    def test_entry_scope_history_unchanged_by_switching_to_incident(self):
        task = self.env["project.task"].create(
            {"name": "Old incident", "project_id": self.project.id}
        )
        first = self._log(45 / 60, task_id=task.id, retainer_contact_type="remote")
        debits = self.env["retainer.ledger.entry"]._retainer_active_debits(first)
        self.contract.rounding_scope = "incident"
        count = self._ledger_count()
        # The incident keeps the scope of its first debit: each entry.
        second = self._log(45 / 60, task_id=task.id, retainer_contact_type="remote")
        self.assertEqual(self._ledger_count(), count + 1)
        self.assertFalse(debits.reversal_entry_ids)
        self.assertRecordValues(
            self.env["retainer.ledger.entry"]._retainer_active_debits(second),
            [{"units": -3, "rounding_scope": "entry"}],
        )
        # A new incident is rounded once.
        new_task = self.env["project.task"].create(
            {"name": "New incident", "project_id": self.project.id}
        )
        self._log(4 / 60, task_id=new_task.id, retainer_contact_type="remote")
        self._log(4 / 60, task_id=new_task.id, retainer_contact_type="remote")
        debits = self.env["retainer.ledger.entry"]._retainer_active_incident_debits(
            self.contract.ids, [f"project.task,{new_task.id}"]
        )
        self.assertEqual(debits.mapped("units"), [-1])

    def test_incident_keeps_its_scope_when_the_retainer_switches_back(self):
        self._on(self.task, 4)
        self.incident_contract.rounding_scope = "entry"
        self._on(self.task, 4)
        self.assertEqual(self._charged(), 1)
        # A new incident is rounded entry by entry.
        line = self._on(self.other_task, 4)
        self._on(self.other_task, 4)
        self.assertFalse(line.retainer_incident_ref)
        self.assertEqual(self.incident_contract.balance_units, 56 - 3)

    def test_incident_keeps_the_policy_of_its_first_debit(self):
        self.incident_contract.write({"rounding_method": "up"})
        self._on(self.task, 20)  # 0:20 rounded up: 2 units
        self._on(self.task, 20)  # 0:40: 3 units, 1 more
        self.assertEqual(self._debits().mapped("rounding_policy"), ["up/15/5/1"] * 2)
        self.assertEqual(self._charged(), 3)
        # Rounded down without a minimum, 0:40 would be 2 units and 0:50 3:
        # the change must not give back a unit of the earlier lines.
        self.incident_contract.write(
            {"rounding_method": "down", "rounding_min_units": 0}
        )
        third = self._on(self.task, 10)
        # 0:50 rounded up (the incident's policy) is 4 units: 1 more.
        self.assertEqual(self._charged(), 4)
        self.assertRecordValues(
            self._debits()[-1:],
            [{"units": -1, "timesheet_id": third.id, "rounding_policy": "up/15/5/1"}],
        )
        self.assertEqual(third.retainer_charged_units, 1)
        # An edit of an earlier line is priced with the incident's policy too.
        third.with_user(self.consultant).write({"unit_amount": 25 / 60})
        self.assertEqual(self._charged(), 5)  # 1:05 rounded up
        # A new incident takes the retainer's policy now.
        self._on(self.other_task, 20)
        self._on(self.other_task, 20)
        self.assertEqual(self._charged(self.other_task), 2)  # 0:40 rounded down
        self.assertEqual(
            self._debits(self.other_task).mapped("rounding_policy"), ["down/15/5/0"] * 2
        )

    def test_incident_policy_survives_a_deleted_first_debit(self):
        first = self._on(self.task, 4)  # 1 unit: the minimum
        self.incident_contract.write({"rounding_min_units": 0})
        first.with_user(self.consultant).write({"unit_amount": 0})
        self.assertEqual(self._charged(), 0)  # no time: nothing
        self._on(self.task, 4)
        # The incident's first debit named a minimum of 1 unit.
        self.assertEqual(self._charged(), 1)

    def test_hooks(self):
        with_task = self._on(self.task, 4)
        without = self._on(False, 4)
        self.assertEqual(
            (with_task | without)._retainer_incident_refs(),
            [
                f"project.task,{self.task.id}",
                f"account.analytic.line,{without.id}",
            ],
        )
        Line = self.env["account.analytic.line"]
        # The core's fields, and those an installed extension adds (the
        # support desk adds the ticket).
        self.assertLessEqual(RETAINER_USAGE_FIELDS, Line._retainer_usage_fields())
        # write() asks the hook: a field it leaves out re-prices nothing.
        count = self._ledger_count()
        with patch.object(
            AccountAnalyticLine,
            "_retainer_usage_fields",
            lambda _self: RETAINER_USAGE_FIELDS - {"unit_amount"},
        ):
            with_task.write({"unit_amount": 5.0})
        self.assertEqual(self._ledger_count(), count)

    def test_a_bridge_incident_groups_lines_of_different_tasks(self):
        """What a support desk bridge does: its hook names one incident for
        lines of two tasks."""
        first = self._on(self.task, 4)

        def one_ticket(lines):
            return ["helpdesk.ticket,1" for _line in lines]

        with patch.object(AccountAnalyticLine, "_retainer_incident_refs", one_ticket):
            second = self._on(self.other_task, 4)
            first.write({"name": "Call"})  # not a usage field: nothing moves
            first.write({"unit_amount": 5 / 60})
        self.assertEqual(self._charged(ref="helpdesk.ticket,1"), 1)
        self.assertEqual(second.retainer_incident_ref, "helpdesk.ticket,1")
        self.assertEqual(self._charged(), 0)  # the task's debit moved there
        self.assertEqual(self.incident_contract.balance_units, 55)

    def test_batch_costs_no_query_per_incident(self):
        """The queries incident rounding adds to a batch (over the same
        batch rounded entry by entry) do not grow with its incidents."""

        def queries(count, scope):
            contract = self._create_contract(
                self.customer, self.level_onsite, units=1000, rounding_scope=scope
            )
            project = self._create_project(contract)
            tasks = self.env["project.task"].create(
                [
                    {"name": f"Incident {i}", "project_id": project.id}
                    for i in range(count)
                ]
            )
            vals = [
                {
                    "project_id": project.id,
                    "task_id": task.id,
                    "name": "Work",
                    "unit_amount": 0.1 * (1 + i),
                    "employee_id": self.employee.id,
                    "retainer_contact_type": "remote",
                }
                for task in tasks
                for i in range(3)
            ]
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            lines = self.env["account.analytic.line"].create(vals)
            self.env.flush_all()
            spent = self.env.cr.sql_log_count - before
            # 0:06 + 0:12 + 0:18: 1 + 1 + 1 units entry by entry; 0:36 is 2
            # units and 6 minutes, 3 units, per incident.
            self.assertEqual(contract.used_units, 3 * len(tasks))
            self.assertEqual(len(lines), 3 * len(tasks))
            return spent

        queries(2, "entry")  # warm-up
        queries(2, "incident")
        few = queries(5, "incident") - queries(5, "entry")
        many = queries(40, "incident") - queries(40, "entry")
        self.assertLessEqual(many, few)

    def test_new_line_of_its_own_reads_no_first_scope(self):
        """A new line without task is its own incident: it has no debit yet,
        so the scope of its first debit is not looked up (a query less per
        save); a line on a task still looks its incident's up, and keeps it."""
        executed = []
        cursor_class = type(self.env.cr)
        execute = cursor_class.execute

        def spy(cursor, query, params=None, log_exceptions=True):
            executed.append(str(query.code if isinstance(query, SQL) else query))
            return execute(cursor, query, params, log_exceptions)

        def scope_lookups():
            return sum("DISTINCT ON (contract_id, incident_ref)" in q for q in executed)

        task = self.env["project.task"].create(
            {"name": "Printer", "project_id": self.project.id}
        )
        first = self._log(45 / 60, task_id=task.id, retainer_contact_type="remote")
        self.contract.rounding_scope = "incident"
        self.env.flush_all()
        with patch.object(cursor_class, "execute", spy):
            alone = self._log(45 / 60, retainer_contact_type="remote")
            self.assertEqual(scope_lookups(), 0)
            second = self._log(45 / 60, task_id=task.id, retainer_contact_type="remote")
            self.assertEqual(scope_lookups(), 1)
        Ledger = self.env["retainer.ledger.entry"]
        # The line alone is rounded as its retainer rounds now: once, as an
        # incident; the task's incident keeps the scope of its first debit.
        self.assertEqual(
            alone.retainer_incident_ref, f"account.analytic.line,{alone.id}"
        )
        self.assertEqual(
            Ledger._retainer_active_incident_debits(
                self.contract.ids, [alone.retainer_incident_ref]
            ).units,
            -3,
        )
        self.assertFalse(second.retainer_incident_ref)
        self.assertEqual(
            (Ledger._retainer_active_debits(first | second)).mapped("rounding_scope"),
            ["entry", "entry"],
        )

    def test_single_save_on_a_big_incident_costs_no_more_queries(self):
        Line = self.env["account.analytic.line"]
        big = self.env["project.task"].create(
            {"name": "Long outage", "project_id": self.incident_project.id}
        )
        Line.create(
            [
                {
                    "project_id": self.incident_project.id,
                    "task_id": big.id,
                    "name": "Work",
                    "unit_amount": 0.1,
                    "employee_id": self.employee.id,
                    "retainer_contact_type": "remote",
                }
                for _i in range(200)
            ]
        )
        fresh = self.env["project.task"].create(
            [
                {"name": f"New {i}", "project_id": self.incident_project.id}
                for i in range(2)
            ]
        )

        def queries_of_one_save(task):
            self.env.invalidate_all()
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            self._on(task, 7)
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        queries_of_one_save(fresh[0])  # warm-up
        on_new = queries_of_one_save(fresh[1])
        on_big = queries_of_one_save(big)
        self.assertLessEqual(on_big, on_new)
