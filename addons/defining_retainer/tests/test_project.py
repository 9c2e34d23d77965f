from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestProjectRetainer(RetainerCommon):
    """A project's retainer is of the project's company: the link itself is
    refused, not the timesheets logged on it later."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Other Co"})
        cls.contract_b = cls.env["retainer.contract"].create(
            {
                "partner_id": cls.customer.id,
                "company_id": cls.company_b.id,
                "level_id": cls.level_onsite.id,
            }
        )

    def test_project_of_company_a_refuses_retainer_of_company_b(self):
        message = (
            rf"Project Support Quarter Hour Ltd belongs to {self.company.name} "
            rf"but retainer {self.contract_b.name} belongs to Other Co"
        )
        with self.assertRaisesRegex(ValidationError, message):
            self.project.retainer_id = self.contract_b
        self.assertEqual(self.project.retainer_id, self.contract)
        projects = self.env["project.project"].search_count([])
        with self.assertRaisesRegex(ValidationError, "belongs to Other Co"):
            self.env["project.project"].create(
                {
                    "name": "Support Quarter Hour Ltd",
                    "company_id": self.company.id,
                    "retainer_id": self.contract_b.id,
                }
            )
        self.assertEqual(self.env["project.project"].search_count([]), projects)
        # Nor may the project move to another company than its retainer's.
        with self.assertRaisesRegex(ValidationError, "belongs to Other Co"):
            self.project.company_id = self.company_b
        self.assertEqual(self.project.company_id, self.company)

    def test_project_without_company_takes_its_retainer_company(self):
        """A project without company linked to a retainer becomes a project of
        the retainer's company, so its timesheets are of that company; it
        cannot then be emptied of its company."""
        self.assertFalse(self.plain_project.company_id)
        self.plain_project.retainer_id = self.contract_b
        self.assertEqual(self.plain_project.company_id, self.company_b)
        project = self.env["project.project"].create(
            {"name": "Shared desk", "retainer_id": self.contract.id}
        )
        self.assertEqual(project.company_id, self.company)
        with self.assertRaisesRegex(
            ValidationError,
            rf"Project Shared desk belongs to no company but retainer "
            rf"{self.contract.name} belongs to {self.company.name}",
        ):
            project.company_id = False
        self.assertEqual(project.company_id, self.company)
