from odoo.tests import HttpCase, new_test_user, tagged

from .common import RetainerFixturesMixin


@tagged("post_install", "-at_install", "defining_retainer")
class TestTimesheetTour(RetainerFixturesMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {
                "retainer_overdraft_policy": "warn",
                "retainer_audit_required": False,
                "retainer_low_balance_units": 0,
            }
        )
        level = cls.env["retainer.level"].create(
            {"name": "Tour Remote", "allow_phone": True, "allow_remote": True}
        )
        customer = cls.env["res.partner"].create(
            {"name": "Tour Customer Ltd", "is_company": True}
        )
        cls.contract = cls._create_contract(customer, level, units=56)
        cls.project = cls._create_project(cls.contract)
        cls.task = cls.env["project.task"].create(
            {"name": "Server move", "project_id": cls.project.id}
        )
        cls.consultant = new_test_user(
            cls.env,
            login="tour_consultant",
            groups="hr_timesheet.group_hr_timesheet_user,project.group_project_user",
            name="Toni Tour",
        )
        cls.employee = cls.env["hr.employee"].create(
            {"name": "Toni Tour", "user_id": cls.consultant.id}
        )
        cls.env["account.analytic.line"].create(
            {
                "task_id": cls.task.id,
                "project_id": cls.project.id,
                "name": "Preparation",
                "unit_amount": 13.0,  # 52 units: 4 left
                "employee_id": cls.employee.id,
            }
        )

    def test_timesheet_tour(self):
        """A consultant logs time on a retainer task's timesheet tab: sees
        the balance, is warned of the overdraft before saving, saves."""
        self.assertEqual(self.contract.balance_units, 4)
        self.start_tour(
            f"/odoo/project.task/{self.task.id}",
            "defining_retainer_timesheet_tour",
            login=self.consultant.login,
        )
        self.env.invalidate_all()
        line = self.task.timesheet_ids.filtered(
            lambda t: t.name == "Server move, first part"
        )
        self.assertEqual(line.retainer_units, 8)
        self.assertEqual(line.retainer_contact_type, "remote")
        self.assertEqual(self.contract.balance_units, -4)
        self.assertTrue(self.contract.overdraft_notified)
