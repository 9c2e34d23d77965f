import io

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL
from odoo.tools.pdf import PdfFileReader

from .common import RetainerCommon


class AuditCommon(RetainerCommon):
    """A catalogue (Windows supported, Linux limited, IBM mainframe not
    supported) and a retainer in audit whose customer has a portal contact,
    a contact without portal access, and another customer's portal user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Technology = cls.env["retainer.technology"]
        cls.tech_windows = Technology.create(
            {"name": "Windows Server", "category": "software", "vendor": "Microsoft"}
        )
        cls.tech_linux = Technology.create(
            {
                "name": "Linux servers",
                "category": "software",
                "support_status": "limited",
                "customer_note": "Basic administration only.",
            }
        )
        cls.tech_mainframe = Technology.create(
            {
                "name": "IBM mainframe",
                "category": "hardware",
                "vendor": "IBM",
                "support_status": "not_supported",
                "customer_note": "IBM mainframes: not supported; we can "
                "recommend a specialist.",
            }
        )
        cls.company.write(
            {
                "retainer_audit_required": True,
                "retainer_audit_ack_required": False,
                "retainer_audit_time": "free",
            }
        )
        cls.audited = cls._create_contract(cls.customer, cls.level_onsite)
        cls.audited_project = cls._create_project(cls.audited)
        cls.portal_user = new_test_user(
            cls.env,
            login="audit_portal_contact",
            groups="base.group_portal",
            name="Paula Portal",
        )
        cls.portal_user.partner_id.parent_id = cls.customer
        cls.other_portal_user = new_test_user(
            cls.env,
            login="audit_other_portal",
            groups="base.group_portal",
            name="Otto Other",
        )
        cls.other_portal_user.partner_id.parent_id = cls.other_customer
        # customer_contact (common.py) is a contact without portal access.

    def _audit(self, contract=None, assets=None, findings=None):
        """An audit in progress of ``contract`` (the audited retainer), as
        the manager, with ``assets`` (list of vals) and ``findings``."""
        contract = contract or self.audited
        audit = contract.with_user(self.manager)._retainer_open_audit()
        audit = audit.with_user(self.manager)
        if assets is None:
            assets = [
                {"name": "File server", "technology_id": self.tech_windows.id},
                {"name": "Imaging server", "technology_id": self.tech_linux.id},
                {"name": "Billing system", "technology_id": self.tech_mainframe.id},
            ]
        audit.write({"asset_ids": [Command.create(vals) for vals in assets]})
        for vals in findings or []:
            self.env["retainer.audit.finding"].with_user(self.manager).create(
                {"audit_id": audit.id} | vals
            )
        return audit


@tagged("post_install", "-at_install", "defining_retainer")
class TestAuditCatalogue(AuditCommon):
    def test_status_comes_from_the_catalogue(self):
        audit = self._audit()
        statuses = {asset.name: asset.support_status for asset in audit.asset_ids}
        self.assertEqual(
            statuses,
            {
                "File server": "supported",
                "Imaging server": "limited",
                "Billing system": "not_supported",
            },
        )
        mainframe = audit.asset_ids.filtered(lambda a: a.name == "Billing system")
        self.assertEqual(mainframe.category, "hardware")
        self.assertFalse(mainframe.supported)
        self.assertIn("recommend a specialist", mainframe.customer_note)
        self.assertEqual(self.audited.unsupported_audit_line_ids, mainframe)
        self.assertEqual((audit.unsupported_count, audit.limited_count), (1, 1))
        # The same technology is judged the same way for another customer.
        other = self._create_contract(self.other_customer, self.level_onsite)
        other_audit = self._audit(
            other, [{"name": "Their host", "technology_id": self.tech_mainframe.id}]
        )
        self.assertEqual(other_audit.asset_ids.support_status, "not_supported")

    def test_override_needs_a_reason(self):
        audit = self._audit()
        mainframe = audit.asset_ids.filtered(lambda a: a.name == "Billing system")
        with self.assertRaisesRegex(
            ValidationError,
            "the catalogue says Not supported for IBM mainframe; another status "
            "needs a reason",
        ):
            mainframe.write({"support_status": "limited"})
        self.assertEqual(mainframe.support_status, "not_supported")
        mainframe.write(
            {
                "support_status": "limited",
                "override_reason": "Only its terminal emulators on our desktops.",
            }
        )
        self.assertEqual(mainframe.support_status, "limited")
        self.assertTrue(mainframe.supported)
        # Without a technology, the status needs a reason too.
        with self.assertRaisesRegex(ValidationError, "has no technology from the"):
            audit.write({"asset_ids": [Command.create({"name": "Mystery box"})]})
        self.assertEqual(len(audit.asset_ids), 3)

    def test_unknown_technology_refused(self):
        audit = self._audit(assets=[])
        missing = self.env["retainer.technology"].search([], order="id desc", limit=1)
        with self.assertRaisesRegex(
            ValidationError, rf"Unknown technology \(id {missing.id + 1000}\)"
        ):
            self.env["retainer.audit.line"].with_user(self.manager).create(
                {
                    "audit_id": audit.id,
                    "name": "Thing",
                    "technology_id": missing.id + 1000,
                }
            )
        self.assertFalse(audit.asset_ids)

    def test_finding_without_severity_refused(self):
        audit = self._audit()
        Finding = self.env["retainer.audit.finding"].with_user(self.manager)
        with self.assertRaisesRegex(ValidationError, "A finding needs a severity"):
            Finding.create({"audit_id": audit.id, "name": "Backups untested"})
        with self.assertRaisesRegex(ValidationError, "A finding needs a severity"):
            Finding.create(
                {"audit_id": audit.id, "name": "Backups untested", "severity": "huge"}
            )
        with self.assertRaisesRegex(ValidationError, "description of what was found"):
            Finding.create({"audit_id": audit.id, "severity": "ok", "name": " "})
        self.assertFalse(audit.finding_ids)
        finding = Finding.create(
            {
                "audit_id": audit.id,
                "severity": "critical",
                "name": "Backups untested",
                "recommendation": "Test a restore",
                "asset_id": audit.asset_ids[0].id,
            }
        )
        self.assertEqual(audit.critical_count, 1)
        other = self._create_contract(self.other_customer, self.level_onsite)
        other_audit = self._audit(other)
        with self.assertRaisesRegex(ValidationError, "is not one of the assets of"):
            finding.write({"asset_id": other_audit.asset_ids[0].id})

    def test_catalogue_and_audit_rights(self):
        Technology = self.env["retainer.technology"]
        with self.assertRaisesRegex(AccessError, "not allowed to create"):
            Technology.with_user(self.consultant).create({"name": "Novell"})
        self.assertTrue(
            Technology.with_user(self.consultant).search(
                [("name", "=", "IBM mainframe")]
            )
        )
        audit = self._audit()
        with self.assertRaisesRegex(AccessError, "not allowed to modify"):
            audit.with_user(self.consultant).write({"summary": "Mine"})
        with self.assertRaisesRegex(AccessError, "Only a retainer manager"):
            audit.with_user(self.consultant).action_complete()

    def test_multi_company_rules(self):
        company_b = self.env["res.company"].create({"name": "Audit Co B"})
        manager_b = new_test_user(
            self.env,
            login="audit_manager_b",
            groups="defining_retainer.group_retainer_manager",
            company_id=company_b.id,
            company_ids=[Command.set(company_b.ids)],
        )
        audit = self._audit(findings=[{"severity": "ok", "name": "Fine"}])
        for model, record in (
            ("retainer.audit", audit),
            ("retainer.audit.line", audit.asset_ids),
            ("retainer.audit.finding", audit.finding_ids),
        ):
            self.assertFalse(
                self.env[model].with_user(manager_b).search([("id", "in", record.ids)]),
                model,
            )
        # The shared catalogue is read by every company, a company's own
        # technologies by that company only.
        own = self.env["retainer.technology"].create(
            {"name": "Company A only", "company_id": self.company.id}
        )
        seen = self.env["retainer.technology"].with_user(manager_b).search([])
        self.assertIn(self.tech_mainframe, seen)
        self.assertNotIn(own, seen)


@tagged("post_install", "-at_install", "defining_retainer")
class TestAuditLifecycle(AuditCommon):
    def test_complete_activates_without_acknowledgement(self):
        self.assertEqual(self.audited.state, "audit")
        with self.assertRaisesRegex(UserError, "Record the customer's assets"):
            self.audited.with_user(self.manager).action_complete_audit()
        audit = self._audit()
        self.assertEqual(audit.task_id.project_id, self.audited_project)
        self.assertEqual(audit.time_policy, "free")
        self.audited.with_user(self.manager).action_complete_audit()
        self.assertEqual(audit.state, "done")
        self.assertEqual(self.audited.state, "active")
        self.assertEqual(self.audited.audit_state, "done")
        self.assertIn("Not supported: Billing system", self.audited.message_ids[0].body)
        # What was completed is kept as the customer saw it.
        with self.assertRaisesRegex(UserError, "is completed: it is kept as"):
            audit.asset_ids[0].write({"name": "Renamed"})
        with self.assertRaisesRegex(UserError, "is completed: it is kept as"):
            audit.write({"summary": "Rewritten"})
        with self.assertRaisesRegex(UserError, "is completed: it is kept as"):
            self.env["retainer.audit.finding"].with_user(self.manager).create(
                {"audit_id": audit.id, "severity": "ok", "name": "Late"}
            )

    def test_acknowledgement_required_before_activation(self):
        self.company.retainer_audit_ack_required = True
        audit = self._audit()
        # Nothing to acknowledge while the audit is in progress.
        with self.assertRaisesRegex(UserError, "is still in progress"):
            audit._retainer_acknowledge(self.portal_user.partner_id, "Paula Portal")
        self.audited.with_user(self.manager).action_complete_audit()
        self.assertEqual(self.audited.state, "audit")
        self.assertEqual(self.audited.audit_state, "to_acknowledge")
        with self.assertRaisesRegex(UserError, "waits for the customer's"):
            self.audited.with_user(self.manager).action_complete_audit()
        audit._retainer_acknowledge(self.portal_user.partner_id, " Paula Portal ")
        self.assertEqual(self.audited.state, "active")
        self.assertEqual(self.audited.audit_state, "done")
        self.assertEqual(audit.acknowledged_name, "Paula Portal")
        self.assertEqual(audit.acknowledged_partner_id, self.portal_user.partner_id)
        self.assertTrue(audit.acknowledged_date)
        message = self.audited.message_ids[0]
        self.assertIn("acknowledged by Paula Portal", message.body)
        self.assertEqual(message.author_id, self.portal_user.partner_id)
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))

    def test_acknowledgement_is_a_comment_not_emailed_to_its_author(self):
        audit = self._audit()
        audit.action_complete()
        paula = self.portal_user.partner_id
        # Paula and the account manager follow the retainer's conversation.
        self.audited.message_subscribe(
            partner_ids=(paula | self.manager.partner_id).ids
        )
        paula.email = "paula@customer.example.com"
        self.manager.partner_id.email = "manager@quarterhour.example.com"
        before = self.audited.message_ids
        audit._retainer_acknowledge(paula, "Paula Portal")
        message = self.audited.message_ids - before
        self.assertEqual(len(message), 1)
        self.assertEqual(message.message_type, "comment")
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))
        self.assertEqual(message.author_id, paula)
        self.assertIn(f"{audit.name} acknowledged by Paula Portal.", message.body)
        # In the conversation like Odoo's quotation signature: the other
        # followers are told, the author is not emailed her own words.
        notified = message.notification_ids.res_partner_id
        self.assertIn(self.manager.partner_id, notified)
        self.assertNotIn(paula, notified)
        mails = (
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        )
        self.assertNotIn(paula, mails.recipient_ids)

    def test_acknowledging_twice_refused(self):
        audit = self._audit()
        audit.action_complete()
        audit._retainer_acknowledge(self.portal_user.partner_id, "Paula Portal")
        first = audit.acknowledged_date
        messages = len(self.audited.message_ids)
        with self.assertRaisesRegex(
            UserError, "was already acknowledged by Paula Portal on"
        ):
            audit._retainer_acknowledge(self.portal_user.partner_id, "Someone Else")
        self.assertEqual(audit.acknowledged_name, "Paula Portal")
        self.assertEqual(audit.acknowledged_date, first)
        self.assertEqual(len(self.audited.message_ids), messages)

    def test_acknowledging_after_a_waiver_refused(self):
        self.company.retainer_audit_ack_required = True
        audit = self._audit()
        audit.action_complete()
        wizard = self.env["retainer.audit.waive"].with_user(self.manager)
        wizard.create(
            {"contract_id": self.audited.id, "reason": "Customer on holiday"}
        ).action_waive()
        self.assertEqual(self.audited.state, "active")
        self.assertEqual(self.audited.audit_state, "waived")
        self.assertTrue(audit.acknowledgement_waived)
        with self.assertRaisesRegex(UserError, "was waived by the firm"):
            audit._retainer_acknowledge(self.portal_user.partner_id, "Paula Portal")
        self.assertFalse(audit.acknowledged_date)
        # A waived audit in progress is abandoned: nothing to acknowledge.
        other = self._create_contract(self.other_customer, self.level_onsite)
        draft = self._audit(other)
        other._waive_audit("Known estate")
        self.assertEqual(draft.state, "waived")
        self.assertFalse(other.current_audit_id)
        with self.assertRaisesRegex(UserError, "was waived by the firm"):
            draft._retainer_acknowledge(self.other_portal_user.partner_id, "Otto")

    def test_only_the_customers_portal_contacts_acknowledge(self):
        audit = self._audit()
        audit.action_complete()
        with self.assertRaisesRegex(
            AccessError, "Only the contacts of Quarter Hour Ltd can acknowledge"
        ):
            audit._retainer_acknowledge(self.other_portal_user.partner_id, "Otto")
        with self.assertRaisesRegex(AccessError, "Quinn Contact has no portal access"):
            audit._retainer_acknowledge(self.customer_contact, "Quinn Contact")
        with self.assertRaisesRegex(AccessError, "Only the contacts of"):
            audit._retainer_acknowledge(self.env["res.partner"], "Nobody")
        with self.assertRaisesRegex(UserError, "Type your full name"):
            audit._retainer_acknowledge(self.portal_user.partner_id, "   ")
        self.assertFalse(audit.acknowledged_date)
        self.assertFalse(audit._retainer_can_acknowledge(self.customer_contact))
        self.assertTrue(audit._retainer_can_acknowledge(self.portal_user.partner_id))

    def test_health_checks_keep_history(self):
        first = self._audit()
        first.action_complete()
        self.assertEqual(self.audited.current_audit_id, first)
        draft = self._create_contract(
            self.other_customer, self.level_phone, state="draft"
        )
        with self.assertRaisesRegex(UserError, "is draft: it cannot be audited"):
            self.env["retainer.audit"].create({"contract_id": draft.id})
        action = self.audited.with_user(self.manager).action_new_audit()
        second = self.env["retainer.audit"].browse(action["res_id"])
        self.assertNotEqual(second, first)
        with self.assertRaisesRegex(UserError, "is still in progress: complete it"):
            self.env["retainer.audit"].create({"contract_id": self.audited.id})
        self._audit(assets=[{"name": "New NAS", "technology_id": self.tech_linux.id}])
        second.with_user(self.manager).action_complete()
        self.assertEqual(self.audited.current_audit_id, second)
        self.assertEqual(self.audited.audit_ids, first | second)
        self.assertEqual(first.state, "done")
        self.assertEqual(len(first.asset_ids), 3)
        self.assertEqual(second.asset_ids.mapped("name"), ["New NAS"])
        # Completing a later health-check leaves an active retainer active.
        self.assertEqual(self.audited.state, "active")

    def test_unsupported_assets_come_from_the_current_audit(self):
        first = self._audit()
        first.action_complete()
        mainframe = first.asset_ids.filtered(lambda a: a.name == "Billing system")
        self.assertEqual(self.audited.unsupported_audit_line_ids, mainframe)
        # A new health-check in progress changes nothing until completed.
        second = self._audit(
            assets=[{"name": "File server", "technology_id": self.tech_windows.id}]
        )
        self.assertEqual(self.audited.current_audit_id, second)
        self.assertEqual(self.audited.unsupported_audit_line_ids, mainframe)
        # The mainframe was replaced: the completed second audit is current,
        # the first one stays as history with its unsupported asset.
        second.action_complete()
        self.assertEqual(self.audited.current_audit_id, second)
        self.assertFalse(self.audited.unsupported_audit_line_ids)
        self.assertEqual(first.unsupported_count, 1)
        self.assertEqual(second.unsupported_count, 0)
        self.assertEqual(
            first.asset_ids.filtered("supported").mapped("name"),
            ["File server", "Imaging server"],
        )
        self.assertFalse(first.is_current)
        self.assertTrue(second.is_current)
        # The retainer form shows the current audit's list only.
        form = self.audited.with_user(self.manager).get_views([(False, "form")])
        self.assertIn("unsupported_audit_line_ids", form["views"]["form"]["arch"])


@tagged("post_install", "-at_install", "defining_retainer")
class TestAuditTime(AuditCommon):
    def _log_on(self, task, hours):
        return self._log(hours, project=self.audited_project, task_id=task.id)

    def test_free_audit_time_uses_no_units(self):
        audit = self._audit()
        line = self._log_on(audit.task_id, 2.0)
        self.assertFalse(line.retainer_id)
        self.assertEqual(line.retainer_units, 0)
        audit.action_complete()
        self.assertEqual(self.audited.state, "active")
        self.assertFalse(line.retainer_id)
        self.assertEqual(self.audited.used_units, 0)
        # Other time on the retainer's project is still refused in audit.

    def test_debit_audit_time_once_active(self):
        self.company.retainer_audit_time = "debit"
        self.audited._post_manual_entry("credit", 56, "Opening block")
        audit = self._audit()
        self.assertEqual(audit.time_policy, "debit")
        line = self._log_on(audit.task_id, 1.0)
        self.assertFalse(line.retainer_id)
        audit.action_complete()
        self.assertEqual(self.audited.state, "active")
        self.assertEqual(line.retainer_id, self.audited)
        self.assertEqual(line.retainer_units, 4)
        self.assertEqual(self.audited.balance_units, 52)

    def _audit_product(self, **vals):
        hour = self.env.ref("uom.product_uom_hour")
        return self.env["product.product"].create(
            {
                "name": "Audit hour",
                "type": "service",
                "service_policy": "delivered_timesheet",
                "list_price": 120,
                "uom_id": hour.id,
                "uom_po_id": hour.id,
            }
            | vals
        )

    def test_invoice_audit_time(self):
        product = self._audit_product()
        self.company.write(
            {"retainer_audit_time": "invoice", "retainer_audit_product_id": product.id}
        )
        audit = self._audit()
        line = self._log_on(audit.task_id, 1.5)
        self.assertFalse(line.retainer_id)
        self.assertFalse(line.so_line)
        audit.action_complete()
        order = audit.sale_order_id
        self.assertEqual(order.partner_id, self.customer)
        self.assertEqual(order.state, "draft")
        self.assertEqual(audit.sale_line_id, order.order_line)
        self.assertEqual(order.order_line.product_id, product)
        self.assertEqual(order.order_line.product_uom_qty, 1.5)
        self.assertEqual(order.amount_untaxed, 180)
        self.assertEqual(line.so_line, order.order_line)
        self.assertEqual(order.order_line.qty_delivered, 1.5)
        self.assertEqual(self.audited.used_units, 0)

    def test_invoice_audit_time_logged_after_completion(self):
        self.company.write(
            {
                "retainer_audit_time": "invoice",
                "retainer_audit_product_id": self._audit_product().id,
            }
        )
        audit = self._audit()
        self._log_on(audit.task_id, 1.5)
        audit.action_complete()
        self.assertEqual(self.audited.state, "active")
        # The report written after the visit: on the audit's task, not on
        # the retainer, billed by the audit's order line.
        late = self._log_on(audit.task_id, 1.0)
        self.assertFalse(late.retainer_id)
        self.assertEqual(late.retainer_units, 0)
        sale_line = audit.sale_line_id
        self.assertEqual(late.so_line, sale_line)
        self.assertEqual(sale_line.qty_delivered, 2.5)
        # The salesperson confirms the quotation, the accountant invoices.
        order = audit.sale_order_id.sudo()
        order.action_confirm()
        invoice = order._create_invoices()
        self.assertEqual(invoice.invoice_line_ids.quantity, 2.5)
        self.assertEqual(invoice.amount_untaxed, 300)
        self.assertEqual(late.timesheet_invoice_id, invoice)
        # Time logged after the invoice is invoiced next time, once.
        later = self._log_on(audit.task_id, 0.5)
        self.assertEqual(later.so_line, sale_line)
        self.assertEqual(sale_line.qty_to_invoice, 0.5)
        self.assertEqual(self.audited.used_units, 0)

    def test_audit_product_must_be_invoiced_on_timesheets(self):
        fixed = self._audit_product(name="Audit fee", service_policy="ordered_prepaid")
        with self.assertRaisesRegex(
            ValidationError,
            "The audit product Audit fee must be a service invoiced on timesheets",
        ):
            self.company.retainer_audit_product_id = fixed
        self.assertFalse(self.company.retainer_audit_product_id)

    def test_server_fields_of_the_audit_are_dropped(self):
        audit = self._audit()
        audit.with_user(self.manager).write(
            {
                "state": "done",
                "acknowledged_name": "Forged",
                "time_policy": "invoice",
            }
        )
        self.assertEqual(audit.state, "draft")
        self.assertFalse(audit.acknowledged_name)
        self.assertEqual(audit.time_policy, "free")


@tagged("post_install", "-at_install", "defining_retainer")
class TestAuditAfterwards(AuditCommon):
    def setUp(self):
        super().setUp()
        self.audit = self._audit()
        self.audit.action_complete()
        self.mainframe = self.audit.asset_ids.filtered(
            lambda a: a.name == "Billing system"
        )
        self.task = self.env["project.task"].create(
            {"name": "Billing system slow", "project_id": self.audited_project.id}
        )

    def test_warning_on_time_for_an_unsupported_asset(self):
        self.assertFalse(self.task._retainer_unsupported_asset_warning())
        self.task.retainer_asset_id = self.mainframe
        warning = self.task.with_user(
            self.consultant
        )._retainer_unsupported_asset_warning()
        self.assertIn("Billing system (IBM mainframe) is not supported", warning)
        self.assertIn("recommend a specialist", warning)
        line = (
            self.env["account.analytic.line"]
            .with_user(self.consultant)
            .new({"project_id": self.audited_project.id, "task_id": self.task.id})
        )
        result = line._onchange_retainer_asset_warning()
        self.assertIn("is not supported", result["warning"]["message"])
        # Supported: nothing to say.
        self.task.retainer_asset_id = self.audit.asset_ids.filtered(
            lambda a: a.name == "File server"
        )
        self.assertIsNone(line._onchange_retainer_asset_warning())
        limited = self.audit.asset_ids.filtered(lambda a: a.name == "Imaging server")
        self.task.retainer_asset_id = limited
        self.assertIn(
            "limited support only: Basic administration only.",
            self.task._retainer_unsupported_asset_warning(),
        )

    def test_usage_report_groups_by_asset_category(self):
        self.task.retainer_asset_id = self.mainframe
        self._log(1.0, project=self.audited_project, task_id=self.task.id)
        self._log(0.5, project=self.audited_project)
        groups = self.env["retainer.usage.report"]._read_group(
            [("contract_id", "=", self.audited.id)], ["asset_category"], ["units:sum"]
        )
        self.assertEqual(dict(groups), {"hardware": 4, False: 2})


@tagged("post_install", "-at_install", "defining_retainer")
class TestAuditReport(AuditCommon):
    def test_pdf_lists_mismatches_first_and_findings(self):
        audit = self._audit(
            findings=[
                {"severity": "ok", "name": "Desktops patched"},
                {
                    "severity": "critical",
                    "name": "Backups never restored",
                    "recommendation": "Test a restore this month",
                },
            ]
        )
        audit.summary = "Good shape overall"
        audit.action_complete()
        self.env["ir.config_parameter"].set_param("report.url", "http://127.0.0.1:9")
        pdf, _type = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(
                "defining_retainer.action_report_retainer_audit", audit.ids
            )
        )
        self.assertTrue(pdf.startswith(b"%PDF"))
        text = " ".join(
            " ".join(page.extract_text().split())
            for page in PdfFileReader(io.BytesIO(pdf)).pages
        )
        self.assertIn(f"Audit and health-check of retainer {self.audited.name}", text)
        self.assertIn("Quarter Hour Ltd", text)
        self.assertIn("Good shape overall", text)
        self.assertIn(
            "IBM mainframes: not supported; we can recommend a specialist", text
        )
        # Mismatches first: not supported, limited, then supported.
        positions = [
            text.index(name)
            for name in ("Billing system", "Imaging server", "File server")
        ]
        self.assertEqual(positions, sorted(positions))
        # Findings by severity: critical first.
        self.assertLess(
            text.index("Backups never restored"), text.index("Desktops patched")
        )
        self.assertIn("Test a restore this month", text)


@tagged("post_install", "-at_install", "defining_retainer")
class TestAuditUpgrade(AuditCommon):
    def test_legacy_items_become_a_first_audit(self):
        """Items recorded before audits were records (no audit, a
        "supported" tick) become the assets of a first audit: completed for
        an activated retainer, in progress for one still in audit."""
        active = self.contract
        for contract, name, supported in (
            (self.audited, "Old mainframe", False),
            (self.audited, "Old server", True),
            (active, "Old router", True),
        ):
            self.env.cr.execute(
                SQL(
                    "INSERT INTO retainer_audit_line (contract_id, company_id, name, "
                    "category, supported, support_status) VALUES (%s, %s, %s, "
                    "'other', %s, %s)",
                    contract.id,
                    contract.company_id.id,
                    name,
                    supported,
                    "supported" if supported else "not_supported",
                )
            )
        self.env.invalidate_all()
        audits = self.env["retainer.audit"]._retainer_adopt_legacy_lines()
        self.assertEqual(audits.contract_id, self.audited | active)
        legacy = audits.filtered(lambda a: a.contract_id == self.audited)
        self.assertEqual(legacy.state, "draft")
        self.assertEqual(
            audits.filtered(lambda a: a.contract_id == active).state, "done"
        )
        mainframe = legacy.asset_ids.filtered(lambda a: a.name == "Old mainframe")
        self.assertEqual(mainframe.support_status, "not_supported")
        self.assertFalse(mainframe.supported)
        self.assertEqual(
            mainframe.override_reason, "Recorded before the catalogue of technologies."
        )
        self.assertEqual(self.audited.unsupported_audit_line_ids, mainframe)
        # Nothing left to adopt the second time.
        self.assertFalse(self.env["retainer.audit"]._retainer_adopt_legacy_lines())
        # The adopted audit in progress is completed as any other.
        self.audited.with_user(self.manager).action_complete_audit()
        self.assertEqual(self.audited.state, "active")
