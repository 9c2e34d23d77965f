from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from .screenshots import SIZES, ScreenshotMixin


@tagged("post_install", "-at_install", "defining_retainer")
class TestStaffScreenshots(ScreenshotMixin, HttpCase):
    """The staff side as the README shows it, on the demo data (the test
    tier installs it): the Retainers app, a retainer task's timesheets with
    the balance, the ledger and the usage report."""

    def test_staff_screenshots(self):
        project = self.env.ref("defining_retainer.project_acme_demo")
        employees = self.env.ref("hr.employee_admin") | self.env.ref("hr.employee_qdp")
        task = self.env["project.task"].create(
            {"name": "Move the file server to the new rack", "project_id": project.id}
        )
        self.env["account.analytic.line"].create(
            [
                {
                    "task_id": task.id,
                    "project_id": project.id,
                    "employee_id": employee.id,
                    "name": name,
                    "unit_amount": hours,
                }
                for employee, name, hours in (
                    (employees[0], "Rack survey and cabling plan", 1.5),
                    (employees[1], "Server move and checks", 3.25),
                )
            ]
        )
        self.assertTrue(task.timesheet_ids.retainer_id, "the demo project's retainer")
        width, height, mobile = SIZES["desktop"]
        pages = {
            "staff_app": (
                "/odoo/action-defining_retainer.retainer_contract_action",
                ".o_kanban_record",
                None,
            ),
            "staff_timesheets": (
                f"/odoo/project.task/{task.id}",
                ".o_form_view",
                "document.querySelector('a[name=\"page_timesheets\"]').click()",
            ),
            "staff_ledger": (
                "/odoo/action-defining_retainer.retainer_ledger_entry_action",
                ".o_list_view .o_data_row",
                None,
            ),
            "staff_usage_report": (
                "/odoo/action-defining_retainer.retainer_usage_report_action",
                ".o_pivot",
                None,
            ),
        }
        browser = ChromeBrowser(self)
        try:
            self.authenticate("admin", "admin", browser=browser)
            self.cr.flush()
            for name, (url, ready, script) in pages.items():
                with self.subTest(page=name):
                    png = self._capture(
                        browser,
                        url,
                        width,
                        height,
                        mobile,
                        script=script,
                        ready=ready,
                    )
                    self._check_and_save(png, name, width, height)
        finally:
            browser.stop()
            self._wait_remaining_requests()
