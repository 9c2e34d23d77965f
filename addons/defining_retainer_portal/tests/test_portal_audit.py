from odoo import Command
from odoo.tests import new_test_user, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.defining_retainer.tests.screenshots import SIZES, ScreenshotMixin

from .common import RetainerPortalCommon

# The audit alone on the retainer page, for its screenshot.
# Hidden, not removed: the portal's chatter service looks for the
# conversation's element when it starts, which may be after this script.
AUDIT_ONLY = (
    "document.querySelectorAll('#retainer_usage, #retainer_topups, "
    "#retainer_conversation, .o_retainer_sidebar')"
    ".forEach((el) => el.classList.add('d-none'));"
)


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalAudit(ScreenshotMixin, RetainerPortalCommon):
    """The audit on the retainer's page and its acknowledgement: by the
    customer's own portal contacts only, once, and not after a waiver."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {"retainer_audit_ack_required": False, "retainer_audit_time": "free"}
        )
        Technology = cls.env["retainer.technology"]
        windows = Technology.create({"name": "Windows Server", "category": "software"})
        mainframe = Technology.create(
            {
                "name": "IBM mainframe",
                "category": "hardware",
                "support_status": "not_supported",
                "customer_note": "IBM mainframes: not supported; we can "
                "recommend a specialist.",
            }
        )
        cls.audit = cls.env["retainer.audit"].create(
            {
                "contract_id": cls.retainer.id,
                "summary": "Sound estate, one mismatch",
                "asset_ids": [
                    Command.create(
                        {"name": "File server", "technology_id": windows.id}
                    ),
                    Command.create(
                        {"name": "Billing system", "technology_id": mainframe.id}
                    ),
                ],
            }
        )
        cls.env["retainer.audit.finding"].create(
            [
                {
                    "audit_id": cls.audit.id,
                    "severity": "ok",
                    "name": "Desktops patched",
                },
                {
                    "audit_id": cls.audit.id,
                    "severity": "critical",
                    "name": "Backups never restored",
                    "recommendation": "Test a restore this month",
                },
            ]
        )
        cls.audit.action_complete()

    def _acknowledge(self, name="Olivia Owner", audit=None, csrf_page=None):
        csrf = self._csrf_token(csrf_page or self._detail_url(self.retainer))
        return self.url_open(
            self._detail_url(self.retainer, suffix="/audit/acknowledge"),
            data={
                "csrf_token": csrf,
                "audit_id": (audit or self.audit).id,
                "name": name,
            },
        )

    def test_page_shows_mismatches_first_and_findings(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer))
        self.assertEqual(page.status_code, 200)
        text = page.text
        self.assertIn("Audit and health-check", text)
        self.assertIn("Sound estate, one mismatch", text)
        self.assertIn(
            "IBM mainframes: not supported; we can recommend a specialist", text
        )
        self.assertLess(text.index("Billing system"), text.index("File server"))
        self.assertLess(
            text.index("Backups never restored"), text.index("Desktops patched")
        )
        self.assertIn("o_retainer_audit_acknowledge_form", text)
        self.assertIn(f"/my/retainers/{self.retainer.id}/audit/{self.audit.id}", text)

    def test_pdf_route(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(
            self._detail_url(self.retainer, suffix=f"/audit/{self.audit.id}")
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("Backups never restored", response.text)
        # Another customer's portal user: sent away, nothing shown.
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self.url_open(
            self._detail_url(self.retainer, suffix=f"/audit/{self.audit.id}")
        )
        self.assertRefused(response, "Backups never restored")

    def test_portal_contact_acknowledges(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self._acknowledge(" Olivia Owner ")
        self.assertEqual(response.status_code, 200)
        self.assertIn("your acknowledgement is recorded", response.text)
        self.assertIn("Acknowledged by <strong>Olivia Owner</strong>", response.text)
        self.assertNotIn("o_retainer_audit_acknowledge_form", response.text)
        self.assertEqual(self.audit.acknowledged_name, "Olivia Owner")
        self.assertEqual(
            self.audit.acknowledged_partner_id, self.portal_user.partner_id
        )
        message = self.retainer.message_ids[0]
        self.assertIn("acknowledged by Olivia Owner", message.body)
        self.assertEqual(message.author_id, self.portal_user.partner_id)
        # Twice: refused with a clear message, nothing changed.
        response = self._acknowledge("Someone Else")
        self.assertIn("was already acknowledged by Olivia Owner", response.text)
        self.assertEqual(self.audit.acknowledged_name, "Olivia Owner")

    def test_other_customer_refused(self):
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self._acknowledge(
            "Oscar Other", csrf_page=self._detail_url(self.other_retainer)
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.audit.acknowledged_date)

    def test_anonymous_and_share_link_refused(self):
        token = self.retainer._portal_ensure_token()
        page = self.url_open(self._detail_url(self.retainer, access_token=token))
        self.assertEqual(page.status_code, 200)
        # A visitor with the share link sees the audit, not the form.
        self.assertIn("Backups never restored", page.text)
        self.assertNotIn("o_retainer_audit_acknowledge_form", page.text)
        response = self._acknowledge(
            "Visitor", csrf_page=self._detail_url(self.retainer, access_token=token)
        )
        self.assertRegex(response.url, r"/web/login")
        self.assertFalse(self.audit.acknowledged_date)

    def test_staff_is_no_contact_of_the_customer(self):
        self.authenticate(self.manager.login, self.manager.login)
        response = self._acknowledge("Morgan Manager")
        self.assertIn("Only the contacts of Northwind Dental Group", response.text)
        self.assertFalse(self.audit.acknowledged_date)

    def test_acknowledging_after_a_waiver_refused(self):
        self.env.company.retainer_audit_ack_required = True
        retainer = self._create_retainer(
            self.customer, level_id=self._audited_level().id
        )
        audit = self.env["retainer.audit"].create(
            {
                "contract_id": retainer.id,
                "asset_ids": [
                    Command.create({"name": "Box", "override_reason": "Seen"})
                ],
            }
        )
        audit.action_complete()
        self.assertEqual(retainer.state, "audit")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        csrf = self._csrf_token(self._detail_url(retainer))
        retainer._waive_audit("Customer on holiday")
        response = self.url_open(
            self._detail_url(retainer, suffix="/audit/acknowledge"),
            data={"csrf_token": csrf, "audit_id": audit.id, "name": "Olivia Owner"},
        )
        self.assertIn("was waived by the firm", response.text)
        self.assertFalse(audit.acknowledged_date)

    def test_empty_name_refused(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self._acknowledge("   ")
        self.assertIn("Type your full name to acknowledge the audit.", response.text)
        self.assertFalse(self.audit.acknowledged_date)

    def test_audit_tour(self):
        """A customer in a real browser reads the audit and acknowledges it:
        the retainer waiting for it becomes active."""
        retainer = self._create_retainer(
            self.customer, level_id=self._audited_level().id
        )
        self.env.company.retainer_audit_ack_required = True
        audit = self.env["retainer.audit"].create(
            {
                "contract_id": retainer.id,
                "asset_ids": [
                    Command.create(
                        {
                            "name": "Billing system",
                            "technology_id": self.audit.asset_ids.filtered(
                                lambda a: a.name == "Billing system"
                            ).technology_id.id,
                        }
                    )
                ],
            }
        )
        audit.action_complete()
        self.assertEqual(retainer.audit_state, "to_acknowledge")
        self.start_tour(
            f"/my/retainers/{retainer.id}",
            "defining_retainer_portal_audit_tour",
            login=self.portal_user.login,
        )
        self.env.invalidate_all()
        self.assertEqual(audit.acknowledged_name, "Olivia Owner")
        self.assertEqual(retainer.state, "active")

    def test_screenshots(self):
        """The portal's audit section (desktop and phone) and the audit
        report, as the README shows them."""
        browser = ChromeBrowser(self)
        try:
            self.authenticate(
                self.portal_user.login, self.portal_user.login, browser=browser
            )
            self.cr.flush()
            for size, (width, height, mobile) in SIZES.items():
                png = self._capture(
                    browser,
                    self._detail_url(self.retainer),
                    width,
                    height,
                    mobile,
                    script=AUDIT_ONLY,
                )
                self._check_and_save(png, f"retainer_audit_{size}", width, height)
            self.authenticate("admin", "admin", browser=browser)
            width, height, mobile = SIZES["desktop"]
            png = self._capture(
                browser,
                f"/report/html/defining_retainer.report_retainer_audit/{self.audit.id}",
                width,
                height,
                mobile,
                ready=".o_retainer_audit",
            )
            self._check_and_save(png, "retainer_audit_report", width, height)
        finally:
            browser.stop()
            self._wait_remaining_requests()

    def _audited_level(self):
        return self.env["retainer.level"].create(
            {"name": "Audited", "allow_remote": True, "audit_policy": "required"}
        )


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalAuditNoPortalContact(RetainerPortalCommon):
    def test_contact_without_portal_access_refused(self):
        """A contact of the customer without a portal user cannot sign (the
        route needs a login; the model refuses such a contact too)."""
        contact = self.env["res.partner"].create(
            {"name": "Nora No-login", "parent_id": self.customer.id}
        )
        archived = new_test_user(
            self.env, login="ret_portal_archived", groups="base.group_portal"
        )
        archived.partner_id.parent_id = self.customer
        archived.active = False
        audit = self.env["retainer.audit"].create(
            {
                "contract_id": self.retainer.id,
                "asset_ids": [
                    Command.create({"name": "Box", "override_reason": "Seen"})
                ],
            }
        )
        audit.action_complete()
        for partner in (contact, archived.partner_id):
            with self.assertRaisesRegex(Exception, "has no portal access"):
                audit._retainer_acknowledge(partner, partner.name)
        self.assertFalse(audit.acknowledged_date)
