from datetime import date

from freezegun import freeze_time

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

    @freeze_time("2026-03-15")
    def test_contract_form_blocks(self):
        """The Blocks tab lists the credits with their figures, the
        expiring units and the rollover settings, which a manager edits."""
        spring = self.contract._post_manual_entry(
            "credit",
            28,
            "Spring block",
            date=date(2026, 1, 1),
            expiry_date=date(2026, 4, 1),
        )
        sheet = self._log(1)  # 4 units, from the block that expires first
        form = Form(self.contract.with_user(self.manager))
        self.assertEqual(len(form.block_ids), 2)
        self.assertEqual(form.expiring_units, 24)
        self.assertEqual(form.next_expiry_date, "2026-04-01")
        self.assertEqual(
            (spring.consumed_units, spring.expired_units, spring.remaining_units),
            (4, 0, 24),
        )
        form.rollover_max_units = 8
        form.rollover_validity_months = 3
        form.save()
        self.assertEqual(
            (self.contract.rollover_max_units, self.contract.rollover_validity_months),
            (8, 3),
        )
        Contract = self.env["retainer.contract"]
        search_view = self.env.ref("defining_retainer.retainer_contract_view_search")
        self.assertIn("filter_expiring", search_view.arch)
        self.assertEqual(
            Contract.search([("expiring_units", ">", 0)]) & self.contract,
            self.contract,
        )
        # The ledger entry form: the block of a credit, who paid a debit.
        Ledger = self.env["retainer.ledger.entry"].with_user(self.manager)
        credit_form = Form(Ledger.browse(spring.id))
        self.assertEqual(credit_form.expiry_date, "2026-04-01")
        self.assertEqual(credit_form.remaining_units, 24)
        debit = Ledger.search([("timesheet_id", "=", sheet.id)])
        debit_form = Form(debit)
        self.assertEqual(len(debit_form.paid_by_block_ids), 1)
        self.assertEqual(debit.paid_by_block_ids, spring)
