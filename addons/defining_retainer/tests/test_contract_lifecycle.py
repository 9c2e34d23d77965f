from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged

from ..tools.server_values import server_values
from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestContractLifecycle(RetainerCommon):
    def test_company_defaults_and_overrides(self):
        self.company.write(
            {
                "retainer_rounding_method": "up",
                "retainer_rounding_unit_minutes": 6,
                "retainer_rounding_grace_minutes": 0,
                "retainer_rounding_min_units": 2,
                "retainer_day_hours": 8.0,
                "retainer_overdraft_policy": "block",
            }
        )
        contract = self.env["retainer.contract"].create(
            {"partner_id": self.customer.id, "level_id": self.level_phone.id}
        )
        self.assertRecordValues(
            contract,
            [
                {
                    "rounding_method": "up",
                    "rounding_unit_minutes": 6,
                    "rounding_grace_minutes": 0,
                    "rounding_min_units": 2,
                    "day_hours": 8.0,
                    "overdraft_policy": "block",
                    "state": "active",
                }
            ],
        )
        self.assertTrue(contract.name.startswith("RET/"))
        # the contract's own policy applies to its timesheets
        contract._post_manual_entry("credit", 10, "Block")
        project = self._create_project(contract)
        line = self._log(0.25, project=project)
        self.assertEqual(line.retainer_units, 3)  # 15 min = 2.5 units of 6 -> up 3
        # a settings change does not touch existing contracts
        self.company.retainer_rounding_method = "down"
        self.assertEqual(contract.rounding_method, "up")

    def test_settings_form(self):
        settings = Form(self.env["res.config.settings"])
        settings.retainer_day_hours = 7.5
        settings.retainer_audit_required = True
        settings.save().execute()
        self.assertEqual(self.company.retainer_day_hours, 7.5)
        self.assertTrue(self.company.retainer_audit_required)

    def test_invalid_policy_refused(self):
        for vals, message in (
            ({"rounding_unit_minutes": 0}, "A unit must last at least a minute"),
            ({"rounding_grace_minutes": 15}, "The grace must be at least 0 and"),
            ({"rounding_min_units": -1}, "minimum units per entry cannot be neg"),
            ({"day_hours": 0}, "A retainer day lasts more than 0 and at most 24"),
        ):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(ValidationError, message),
            ):
                self.env["retainer.contract"].create(
                    {"partner_id": self.customer.id, "level_id": self.level_phone.id}
                    | vals
                )

    def test_audit_required_blocks_activation(self):
        self.company.retainer_audit_required = True
        contract = self._create_contract(self.customer, self.level_onsite)
        self.assertEqual(contract.state, "audit")
        self.assertTrue(contract.audit_required)
        project = self._create_project(contract)
        with self.assertRaisesRegex(UserError, "is audit: time on it cannot be"):
            self._log(1.0, project=project)
        # The state is the server's: a client's write of it is dropped...
        contract.write({"state": "active"})
        self.assertEqual(contract.state, "audit")
        # ... and the server's own code still cannot skip the audit.
        with (
            self.assertRaisesRegex(
                ValidationError, "cannot be active before its audit is completed"
            ),
            server_values(),
        ):
            contract.write({"state": "active"})
        with self.assertRaisesRegex(UserError, "Record the customer's assets"):
            contract.with_user(self.manager).action_complete_audit()
        Technology = self.env["retainer.technology"]
        windows = Technology.create({"name": "Windows Server"})
        mainframe = Technology.create(
            {"name": "IBM mainframe", "support_status": "not_supported"}
        )
        # Assets recorded on the retainer belong to its audit in progress.
        contract.with_user(self.manager).write(
            {
                "audit_line_ids": [
                    (
                        0,
                        0,
                        {"name": "Windows Server 2022", "technology_id": windows.id},
                    ),
                    (
                        0,
                        0,
                        {"name": "IBM z15 mainframe", "technology_id": mainframe.id},
                    ),
                ]
            }
        )
        self.assertEqual(contract.current_audit_id.asset_ids, contract.audit_line_ids)
        self.assertEqual(contract.unsupported_audit_line_ids.name, "IBM z15 mainframe")
        contract.with_user(self.manager).action_complete_audit()
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.audit_state, "done")
        self.assertIn("IBM z15 mainframe", contract.message_ids[0].body)

    def test_level_overrides_company_audit_setting(self):
        self.level_phone.audit_policy = "required"
        self.assertEqual(
            self._create_contract(self.customer, self.level_phone).state, "audit"
        )
        self.company.retainer_audit_required = True
        self.level_onsite.audit_policy = "not_required"
        self.assertEqual(
            self._create_contract(self.customer, self.level_onsite).state, "active"
        )

    def test_waive_audit(self):
        self.company.retainer_audit_required = True
        contract = self._create_contract(self.customer, self.level_onsite)
        wizard = self.env["retainer.audit.waive"].with_user(self.manager)
        with self.assertRaisesRegex(UserError, "Waiving an audit needs a reason"):
            wizard.create({"contract_id": contract.id, "reason": "  "}).action_waive()
        with self.assertRaisesRegex(AccessError, "Only a retainer manager can do"):
            contract.with_user(self.consultant)._waive_audit("I say so")
        self.assertEqual(contract.state, "audit")
        wizard.create(
            {"contract_id": contract.id, "reason": "Existing customer, estate known"}
        ).action_waive()
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.audit_state, "waived")
        self.assertEqual(contract.audit_waive_reason, "Existing customer, estate known")

    def test_draft_activation(self):
        contract = self._create_contract(self.customer, self.level_phone, state="draft")
        self.assertEqual(contract.state, "draft")
        contract.action_activate()
        self.assertEqual(contract.state, "active")
        with self.assertRaisesRegex(UserError, "Only a draft retainer can be"):
            contract.action_activate()

    def test_suspend_close_reopen(self):
        contract = self.contract.with_user(self.manager)
        contract.action_suspend()
        self.assertEqual(contract.state, "suspended")
        with self.assertRaisesRegex(UserError, "Only an active retainer can be"):
            contract.action_suspend()
        contract.action_reopen()
        contract.action_close()
        self.assertEqual(contract.state, "closed")
        with self.assertRaisesRegex(UserError, rf"Retainer {contract.name} is closed"):
            contract._post_manual_entry("credit", 4, "After closing")
        contract.action_reopen()
        self.assertEqual(contract.state, "active")
        for action in ("action_suspend", "action_close", "action_reopen"):
            with (
                self.subTest(action),
                self.assertRaisesRegex(AccessError, "Only a retainer manager can"),
            ):
                getattr(self.contract.with_user(self.consultant), action)()

    def test_project_partner_must_match(self):
        with self.assertRaisesRegex(
            ValidationError, "is for Elsewhere plc but retainer .* belongs to"
        ):
            self.project.partner_id = self.other_customer
        # a contact of the customer is fine
        self.project.partner_id = self.customer_contact
        self.assertEqual(self._log(1.0).retainer_id, self.contract)

    def test_smart_button_actions(self):
        self._log(1.0)
        action = self.contract.action_view_timesheets()
        self.assertEqual(
            self.env["account.analytic.line"].search(action["domain"]),
            self.contract.timesheet_ids,
        )
        self.assertEqual(self.contract.timesheet_count, 1)
        action = self.contract.action_view_ledger()
        self.assertEqual(
            self.env["retainer.ledger.entry"].search(action["domain"]),
            self.contract.ledger_entry_ids,
        )
        self.assertEqual(self.contract.ledger_entry_count, 2)
