from odoo.tests import Form, tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestTimesheetForm(RetainerCommon):
    """The timesheet form as staff use it: the retainer, contact type and
    billed units follow what is typed, before saving."""

    def test_form_shows_retainer_units_while_typing(self):
        view = self.env.ref("hr_timesheet.timesheet_view_form_user")
        form = Form(
            self.env["account.analytic.line"].with_user(self.manager), view=view
        )
        form.project_id = self.project
        self.assertEqual(form.retainer_id, self.contract)
        self.assertEqual(form.retainer_contact_type, "remote")
        form.unit_amount = self.hm(3, 37)
        self.assertEqual(form.retainer_units, 15)
        self.assertEqual(form.retainer_billed_hours, 3.75)
        form.retainer_contact_type = "onsite"  # rate 1.5: 5h25.5 -> 22 units
        self.assertEqual(form.retainer_units, 22)
        form.name = "Server recovery"
        line = form.save()
        self.assertEqual(self.contract.balance_units, 56 - 22)
        # moving it to a plain project in the form drops the retainer
        with Form(line.with_user(self.manager), view=view) as edit:
            edit.project_id = self.plain_project
            self.assertFalse(edit.retainer_id)
            self.assertEqual(edit.retainer_units, 0)
        self.assertEqual(self.contract.balance_units, 56)

    def test_contract_form_figures(self):
        self._log(self.hm(3, 37))
        form = Form(self.contract.with_user(self.manager))
        self.assertEqual(form.purchased_units, 56)
        self.assertEqual(form.used_units, 15)
        self.assertEqual(form.balance_units, 41)
        self.assertEqual(form.timesheet_count, 1)
