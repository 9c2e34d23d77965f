from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from ..report.retainer_statement_report import STATEMENT_REPORT
from .common import RetainerCommon

ONCHANGE_LOGGER = "odoo.tests.form.onchange"
# What the timesheet list asks for, as the web client's web_search_read.
LIST_SPEC = {
    "readonly_timesheet": {},
    "date": {},
    "employee_id": {"fields": {"display_name": {}}},
    "project_id": {"fields": {"display_name": {}}},
    "task_id": {"fields": {"display_name": {}}},
    "name": {},
    "unit_amount": {},
    "retainer_id": {"fields": {"display_name": {}}},
    "retainer_contact_type": {},
    "retainer_billed_hours": {},
    "retainer_units": {},
    "retainer_billed_outside": {},
    "retainer_balance_units": {},
    "retainer_balance_hours": {},
    "company_id": {"fields": {}},
    "user_id": {"fields": {}},
}
RETAINER_COLUMNS = (
    "retainer_contact_type",
    "retainer_billed_hours",
    "retainer_units",
    "retainer_balance_units",
    "retainer_balance_hours",
)
# Lists show today's balance in units only, and only on the row being typed.
LIST_COLUMNS = (
    "retainer_contact_type",
    "retainer_billed_hours",
    "retainer_charged_units",
    "retainer_balance_units",
)


@tagged("post_install", "-at_install", "defining_retainer")
class TestTimesheetLogging(RetainerCommon):
    """What whoever logs time sees of the retainer: its balance on each
    line, a warning before an overdraft, the task's contact type, and the
    company's rule for work outside the level."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Line = cls.env["account.analytic.line"]
        cls.form_view = cls.env.ref("hr_timesheet.timesheet_view_form_user")
        cls.phone_contract = cls._create_contract(
            cls.customer, cls.level_phone, units=8
        )
        cls.phone_project = cls._create_project(cls.phone_contract)

    def _form(self, record=None):
        """The timesheet form as the consultant sees it."""
        return Form(
            (record or self.Line).with_user(self.consultant), view=self.form_view
        )

    # === BALANCE ON THE LINES === #

    def test_balance_on_retainer_lines_only(self):
        line = self._log(self.hm(3, 37))  # 15 units of 56
        phone = self._log(1.0, project=self.phone_project)  # 4 units of 8
        plain = self._log(1.0, project=self.plain_project)
        self.env.invalidate_all()
        lines = (line | phone | plain).with_user(self.consultant)
        self.assertEqual(
            lines.mapped("retainer_balance_units"), [41, 4, 0], "balance now"
        )
        self.assertEqual(lines.mapped("retainer_balance_hours"), [10.25, 1.0, 0.0])
        self.assertFalse(plain.retainer_id)
        # the balance follows later postings
        self._log(1.0)
        self.env.invalidate_all()
        self.assertEqual(line.retainer_balance_units, 37)

    def test_columns_hidden_on_lines_without_retainer(self):
        """Every retainer column of the timesheet lists and forms is hidden
        on a row without retainer (no "Billed 00:00 / Units 0")."""
        Line = self.Line.with_user(self.consultant)
        views = [
            ("hr_timesheet.hr_timesheet_line_tree", "list"),
            ("hr_timesheet.timesheet_view_tree_user", "list"),
            ("hr_timesheet.hr_timesheet_line_form", "form"),
            ("hr_timesheet.timesheet_view_form_user", "form"),
        ]
        for xmlid, view_type in views:
            with self.subTest(xmlid):
                view = self.env.ref(xmlid)
                arch = Line.get_views([(view.id, view_type)])["views"][view_type][
                    "arch"
                ]
                tree = etree.fromstring(arch)
                columns = LIST_COLUMNS if view_type == "list" else RETAINER_COLUMNS
                for fname in columns:
                    nodes = tree.xpath(f"//field[@name='{fname}']")
                    self.assertTrue(nodes, f"{fname} is shown to a timesheet user")
                    for node in nodes:
                        hidden = node.get("invisible", "")
                        if not hidden:  # inside a group hidden as a whole
                            hidden = node.getparent().get("invisible", "")
                        self.assertIn("not retainer_id", hidden, fname)
        # The task's timesheet tab: columns only on a retainer task.
        Task = self.env["project.task"].with_user(self.env.ref("base.user_admin"))
        arch = Task.get_views([(False, "form")])["views"]["form"]["arch"]
        tree = etree.fromstring(arch)
        for fname in LIST_COLUMNS:
            node = tree.xpath(
                f"//field[@name='timesheet_ids']/list/field[@name='{fname}']"
            )
            self.assertEqual(len(node), 1, fname)
            self.assertEqual(node[0].get("column_invisible"), "not parent.retainer_id")
            self.assertIn("not retainer_id", node[0].get("invisible"))

    def test_my_timesheets_list_stays_readable(self):
        """My Timesheets shows the units a row cost by default (and the
        incident's total where time is rounded per incident), the others are
        optional; today's balance shows on the row
        being typed, never on saved rows, where it would read as the
        balance after them."""
        Line = self.Line.with_user(self.consultant)
        for xmlid in (
            "hr_timesheet.hr_timesheet_line_tree",
            "hr_timesheet.timesheet_view_tree_user",
        ):
            with self.subTest(xmlid):
                view = self.env.ref(xmlid)
                arch = Line.get_views([(view.id, "list")])["views"]["list"]["arch"]
                tree = etree.fromstring(arch)
                shown = [
                    node.get("name")
                    for node in tree.xpath("//field[starts-with(@name, 'retainer_')]")
                    if node.get("optional") == "show"
                ]
                # What the row cost (the difference it made to its
                # incident) and the incident's total, not the row alone.
                self.assertEqual(
                    shown, ["retainer_charged_units", "retainer_incident_summary"]
                )
                units = tree.xpath("//field[@name='retainer_charged_units']")[0]
                self.assertEqual(units.get("string"), "Units")
                self.assertEqual(units.get("sum"), "Units")
                balance = tree.xpath("//field[@name='retainer_balance_units']")[0]
                self.assertEqual(balance.get("invisible"), "not retainer_id or id")
                self.assertEqual(balance.get("string"), "Balance now")
                self.assertFalse(tree.xpath("//field[@name='retainer_balance_hours']"))

    def test_task_timesheets_tab_stays_readable(self):
        """The task's Timesheets tab shows, beside Odoo's columns, the contact
        type and what each row cost (and the incident's total); the balance
        is optional there too, as in My Timesheets (a column empty on every
        saved row only squeezed its header to "Balance ...")."""
        arch = (
            self.env["project.task"]
            .with_user(self.consultant)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        tab = etree.fromstring(arch).xpath("//field[@name='timesheet_ids']/list")[0]
        by_default = [
            node.get("name")
            for node in tab.xpath("field[starts-with(@name, 'retainer_')]")
            if node.get("column_invisible") != "True"
            and node.get("optional") in (None, "show")
        ]
        self.assertEqual(
            by_default,
            [
                "retainer_contact_type",
                "retainer_charged_units",
                "retainer_incident_summary",
            ],
        )
        balance = tab.xpath("field[@name='retainer_balance_units']")[0]
        self.assertEqual(balance.get("optional"), "hide")

    def test_plain_timesheet_user_sees_the_balance(self):
        """A consultant with nothing but the timesheet user group reads the
        balance of the lines they log, as the timesheet list does."""
        user = new_test_user(
            self.env,
            login="plain_timesheet_user",
            groups="hr_timesheet.group_hr_timesheet_user",
            name="Pat Plain",
        )
        employee = self.env["hr.employee"].create(
            {"name": "Pat Plain", "user_id": user.id}
        )
        self.assertEqual(
            user.groups_id.filtered(
                lambda g: "retainer" in (g.full_name or "").lower()
            ),
            self.env.ref("defining_retainer.group_retainer_user"),
            "the only retainer group comes from the timesheet group",
        )
        line = self._log(2.0, user=user)
        self.assertEqual(line.employee_id, employee)
        self.env.invalidate_all()
        records = self.Line.with_user(user).web_search_read(
            [("id", "=", line.id)], LIST_SPEC
        )["records"]
        self.assertEqual(records[0]["retainer_balance_units"], 48)
        self.assertEqual(records[0]["retainer_balance_hours"], 12.0)
        self.assertEqual(records[0]["retainer_units"], 8)

    def test_balance_read_in_constant_queries(self):
        """Reading the timesheet list costs the same queries for 500 lines
        on 5 retainers as on 50: one read per set of retainers."""
        few = self._lines_on_retainers(5, 100)
        many = self._lines_on_retainers(50, 10)
        self._read_list(few)  # warm the caches (ormcache, views)
        few_count, few_records = self._read_list(few)
        many_count, many_records = self._read_list(many)
        self.assertEqual(few_count, many_count)
        for records, lines in ((few_records, few), (many_records, many)):
            balances = {
                record["id"]: record["retainer_balance_units"] for record in records
            }
            for line in lines:
                self.assertEqual(balances[line.id], line.retainer_id.balance_units)
        self.assertEqual(len(few_records), 500)
        self.assertEqual(len(many_records), 500)

    def _lines_on_retainers(self, retainers, per_retainer):
        projects = [
            self._create_project(
                self._create_contract(self.customer, self.level_onsite, units=400)
            )
            for _i in range(retainers)
        ]
        return self.Line.create(
            [
                {
                    "project_id": project.id,
                    "name": f"Incident {i}",
                    "unit_amount": 0.25,
                    "employee_id": self.employee.id,
                }
                for project in projects
                for i in range(per_retainer)
            ]
        )

    def _read_list(self, lines):
        Line = self.Line.with_user(self.consultant)
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        result = Line.web_search_read([("id", "in", lines.ids)], LIST_SPEC, limit=500)
        return self.cr.sql_log_count - before, result["records"]

    # === WARNING BEFORE SAVING === #

    def test_onchange_warns_of_overdraft(self):
        self._log(13.0)  # 52 of 56 units: 4 left
        form = self._form()
        with self.assertNoLogs(ONCHANGE_LOGGER, "WARNING"):
            form.project_id = self.project
            form.unit_amount = 1.0  # exactly the balance: healthy
        with self.assertLogs(ONCHANGE_LOGGER, "WARNING") as logs:
            form.unit_amount = 2.0
        self.assertIn(
            f"Retainer {self.contract.name} has 4 units (1 h) left and this "
            "time needs 8 units (2 h): saving overdraws it (balance after: "
            "-4 units (-1 h)). Its overdraft policy allows it and tells the "
            "account manager and the customer of the overdraft.",
            logs.output[0],
        )
        form.name = "Overdrawn on purpose"
        form.save()  # a warned overdraft is recorded
        self.assertEqual(self.contract.balance_units, -4)

    def test_onchange_warns_that_block_refuses(self):
        self.contract.overdraft_policy = "block"
        self._log(13.0)
        form = self._form()
        form.project_id = self.project
        form.name = "Too much"
        with self.assertLogs(ONCHANGE_LOGGER, "WARNING") as logs:
            form.unit_amount = 2.0
        self.assertIn(
            f"Retainer {self.contract.name} has 4 units (1 h) left and this "
            "time needs 8 units (2 h). Its overdraft policy blocks "
            "overdrafts: saving will be refused.",
            logs.output[0],
        )
        # The warning never decides: the posting refuses, nothing written.
        lines = self.Line.search_count([])
        count = self._ledger_count()
        with self.assertRaisesRegex(UserError, r"4 units \(1 h\) left.*needs 8"):
            form.save()
        self.assertEqual(self.Line.search_count([]), lines)
        self.assertEqual(self._ledger_count(), count)

    def test_onchange_counts_the_saved_debit_of_an_edited_line(self):
        self.contract.overdraft_policy = "block"
        line = self._log(13.0)  # 52 units, 4 left
        form = self._form(line)
        with self.assertNoLogs(ONCHANGE_LOGGER, "WARNING"):
            form.unit_amount = 14.0  # 56 units: its 52 come back first
        with self.assertLogs(ONCHANGE_LOGGER, "WARNING") as logs:
            form.unit_amount = 15.0
        self.assertIn(
            "has 4 units (1 h) left and this time needs 8 units (2 h)", logs.output[0]
        )

    def test_onchange_silent_when_overdrafts_allowed(self):
        self.contract.overdraft_policy = "allow"
        form = self._form()
        form.project_id = self.project
        with self.assertNoLogs(ONCHANGE_LOGGER, "WARNING"):
            form.unit_amount = 20.0
        plain = self._form()
        with self.assertNoLogs(ONCHANGE_LOGGER, "WARNING"):
            plain.project_id = self.plain_project
            plain.unit_amount = 30.0

    def test_blocked_retainer_refuses_whatever_the_client_sends(self):
        """Derived values sent by a client (no units, billed outside the
        retainer) are the server's to compute: a blocked retainer still
        refuses the time."""
        self.contract.overdraft_policy = "block"
        self._log(13.0)
        count = self._ledger_count()
        lines = self.Line.search_count([])
        forged = {
            "retainer_units": 0,
            "retainer_billed_hours": 0.0,
            "retainer_billed_outside": True,
            "retainer_contact_type": "remote",
        }
        with self.assertRaisesRegex(UserError, r"left and this time needs 8 units"):
            self._log(2.0, **forged)
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(self.Line.search_count([]), lines)
        line = self._log(1.0)
        with self.assertRaisesRegex(UserError, r"left and this time needs"):
            line.with_user(self.consultant).write(forged | {"unit_amount": 2.0})
        self.assertEqual(self._ledger_count(), count + 1)
        self.assertEqual(line.retainer_units, 4)

    # === CONTACT TYPE FROM THE TASK === #

    def test_task_contact_type(self):
        Task = self.env["project.task"]
        task = Task.create({"name": "Server move", "project_id": self.project.id})
        self.assertEqual(task.retainer_contact_type, "remote", "the level's usual type")
        phone_task = Task.create({"name": "Calls", "project_id": self.phone_project.id})
        self.assertEqual(phone_task.retainer_contact_type, "phone")
        plain_task = Task.create(
            {"name": "Filing", "project_id": self.plain_project.id}
        )
        self.assertFalse(plain_task.retainer_contact_type)
        self.assertFalse(plain_task.retainer_id)
        # New timesheets of the task take its type; an explicit one wins.
        task.retainer_contact_type = "onsite"
        line = self._log(1.0, task_id=task.id)
        self.assertEqual(line.retainer_contact_type, "onsite")
        self.assertEqual(line.retainer_units, 6, "on-site rate 1.5")
        phone = self._log(1.0, task_id=task.id, retainer_contact_type="phone")
        self.assertEqual(phone.retainer_contact_type, "phone")
        plain = self._log(1.0, project=self.plain_project, task_id=plain_task.id)
        self.assertFalse(plain.retainer_contact_type)
        # Recorded time moved to another task keeps its type (and price).
        other = Task.create({"name": "Backups", "project_id": self.project.id})
        line.task_id = other
        self.assertEqual(line.retainer_contact_type, "onsite")
        self.assertEqual(line.retainer_units, 6)
        # The form follows the task chosen.
        form = self._form()
        form.project_id = self.project
        self.assertEqual(form.retainer_contact_type, "remote")
        form.task_id = task
        self.assertEqual(form.retainer_contact_type, "onsite")
        form.unit_amount = 1.0
        self.assertEqual(form.retainer_units, 6)
        # A project moved to a narrower retainer: its tasks' type follows.
        self.project.retainer_id = self.phone_contract
        self.assertEqual(task.retainer_contact_type, "phone")
        self.assertEqual(line.retainer_contact_type, "onsite", "recorded time stays")

    def test_task_form_shows_contact_type_on_retainer_projects(self):
        Task = self.env["project.task"].with_user(self.env.ref("base.user_admin"))
        arch = Task.get_views([(False, "form")])["views"]["form"]["arch"]
        node = etree.fromstring(arch).xpath(
            "//group/field[@name='retainer_contact_type']"
        )
        self.assertEqual(len(node), 1)
        self.assertEqual(node[0].get("invisible"), "not retainer_id")
        with Form(Task) as form:
            form.name = "Printer"
            form.project_id = self.project
            self.assertEqual(form.retainer_id, self.contract)
            self.assertEqual(form.retainer_contact_type, "remote")
            form.project_id = self.plain_project
            self.assertFalse(form.retainer_contact_type)

    # === WORK OUTSIDE THE LEVEL === #

    def test_outside_level_refused_by_default(self):
        self.assertEqual(self.company.retainer_outside_level, "refuse")
        count = self._ledger_count()
        lines = self.Line.search_count([])
        with self.assertRaisesRegex(
            ValidationError,
            r"Level Test Telephone of retainer .* does not include On-site support "
            r"\(it includes: Telephone\)",
        ):
            self._log(1.0, project=self.phone_project, retainer_contact_type="onsite")
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(self.Line.search_count([]), lines)
        form = self._form()
        form.project_id = self.phone_project
        with self.assertLogs(ONCHANGE_LOGGER, "WARNING") as logs:
            form.retainer_contact_type = "onsite"
        self.assertIn(
            "does not include On-site support: saving will be refused.",
            logs.output[0],
        )

    def test_outside_level_billed_through_the_order_line(self):
        self.company.retainer_outside_level = "bill"
        sol = self._sold_by_the_hour(self.phone_project)
        count = self._ledger_count()
        line = self._log(
            2.0, project=self.phone_project, retainer_contact_type="onsite"
        )
        self.assertRecordValues(
            line,
            [
                {
                    "retainer_id": self.phone_contract.id,
                    "retainer_billed_outside": True,
                    "retainer_units": 0,
                    "retainer_billed_hours": 0.0,
                    "so_line": sol.id,
                    "timesheet_invoice_type": "billable_time",
                }
            ],
        )
        self.assertEqual(self._ledger_count(), count, "no debit")
        self.assertEqual(self.phone_contract.balance_units, 8)
        sol.invalidate_recordset()
        self.assertEqual(sol.qty_delivered, 2.0)
        self.assertEqual(sol.qty_to_invoice, 2.0)
        # Time the level includes is still paid by the retainer, not billed.
        phone = self._log(1.0, project=self.phone_project)
        self.assertFalse(phone.retainer_billed_outside)
        self.assertFalse(phone.so_line)
        self.assertEqual(self.phone_contract.balance_units, 4)
        sol.invalidate_recordset()
        self.assertEqual(sol.qty_delivered, 2.0)
        # Staff see it in the form before saving, and in the list.
        form = self._form()
        form.project_id = self.phone_project
        with self.assertLogs(ONCHANGE_LOGGER, "WARNING") as logs:
            form.retainer_contact_type = "remote"
        self.assertIn(
            "does not include Remote control support: this time uses no units and "
            "is billed outside the retainer",
            logs.output[0],
        )
        self.assertTrue(form.retainer_billed_outside)
        # Changed to a type the level includes: debited, no longer billed.
        line.retainer_contact_type = "phone"
        self.assertFalse(line.retainer_billed_outside)
        self.assertEqual(line.retainer_units, 8)
        self.assertFalse(line.so_line)
        self.assertEqual(self.phone_contract.balance_units, -4)

    def test_outside_level_on_the_statement(self):
        self.company.retainer_outside_level = "bill"
        self._sold_by_the_hour(self.phone_project)
        today = fields.Date.context_today(self.phone_contract)
        line = self._log(
            1.5,
            project=self.phone_project,
            retainer_contact_type="onsite",
            name="Printer swap on site",
        )
        self._log(1.0, project=self.phone_project, name="Phone call")
        statement = self.phone_contract._statement_data(
            today - timedelta(days=30), today
        )
        self.assertEqual(statement["outside_lines"], line)
        self.assertEqual(statement["outside_hours"], 1.5)
        self.assertEqual(statement["usage_units"], -4, "only the call used units")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                STATEMENT_REPORT,
                self.phone_contract.ids,
                data={
                    "date_from": fields.Date.to_string(today - timedelta(days=30)),
                    "date_to": fields.Date.to_string(today),
                },
            )[0]
            .decode()
        )
        self.assertIn("Work billed outside the retainer", html)
        self.assertIn("Printer swap on site", html)
        self.assertIn("1 h 30 min", html)
        self.assertNotIn("01:30", html)
        # Another period: no such section.
        earlier = self.phone_contract._statement_data(
            today - timedelta(days=90), today - timedelta(days=60)
        )
        self.assertFalse(earlier["outside_lines"])

    def test_outside_level_without_order_line_invoiced_at_overage_price(self):
        self.company.retainer_outside_level = "bill"
        line = self._log(
            1.5, project=self.phone_project, retainer_contact_type="onsite"
        )
        self.assertFalse(line.so_line)
        self.assertEqual(line.timesheet_invoice_type, "billable_manual")
        self.assertEqual(self.phone_contract.outside_hours_to_invoice, 1.5)
        invoice = self.phone_contract._retainer_invoice_outside_level()
        overage = self.env.ref("defining_retainer.product_retainer_overage")
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(invoice.partner_id, self.customer)
        self.assertRecordValues(
            invoice.invoice_line_ids,
            [{"product_id": overage.id, "quantity": 1.5}],
        )
        self.assertEqual(line.timesheet_invoice_id, invoice)
        self.assertEqual(self.phone_contract.balance_units, 8, "no units used")
        self.phone_contract.invalidate_recordset(["outside_hours_to_invoice"])
        self.assertEqual(self.phone_contract.outside_hours_to_invoice, 0.0)
        with self.assertRaisesRegex(UserError, "no time billed outside its level"):
            self.phone_contract._retainer_invoice_outside_level()
        # A cancelled invoice gives the time back to invoice.
        invoice.button_cancel()
        self.assertEqual(
            self.phone_contract._retainer_invoice_outside_level().invoice_line_ids.quantity,
            1.5,
        )
