import re

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common_chatter import RetainerPortalChatterCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalMailPreferences(RetainerPortalChatterCommon):
    """A customer switches the alert and statement emails of a retainer off
    (and on) for themselves only: the rule in
    ``_portal_set_mail_preferences``, the form and its route."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A colleague of the owner who is not a notified contact.
        cls.colleague_user = cls._create_portal_user(
            "ret_portal_colleague", "Carla Colleague", cls.customer
        )

    def _as_portal(self, user=None, retainer=None):
        """The retainer as the portal route hands it to the model: sudo,
        for ``user``."""
        user = user or self.portal_user
        return (retainer or self.retainer).with_user(user).sudo()

    def _optouts(self, retainer=None):
        retainer = retainer or self.retainer
        self.env.invalidate_all()
        return retainer.alert_optout_partner_ids, retainer.statement_optout_partner_ids

    def _post_preferences(self, retainer, csrf_page=None, **form):
        """POST the form of ``retainer`` with a CSRF token of the session,
        read on ``csrf_page`` (default: the retainer's page)."""
        csrf = self._csrf_token(csrf_page or self._detail_url(retainer))
        data = {"csrf_token": csrf, **form}
        return self.url_open(
            self._detail_url(retainer, suffix="/mail_preferences"), data=data
        )

    # === THE RULE === #

    def test_switch_off_and_on_again(self):
        partner = self.portal_user.partner_id
        retainer = self._as_portal()
        self.assertEqual(
            retainer._portal_mail_preferences(partner),
            {"notified": True, "alert": True, "statement": True},
        )
        result = retainer._portal_set_mail_preferences(partner, {"alert": False})
        self.assertEqual(result, {"notified": True, "alert": False, "statement": True})
        alerts, statements = self._optouts()
        self.assertEqual(alerts, partner)
        self.assertFalse(statements)
        # The emails follow: no alert for them, statements still.
        self.assertFalse(self.retainer._retainer_mail_recipients("alert")[0])
        self.assertEqual(
            self.retainer._retainer_mail_recipients("statement")[0], partner
        )
        # Saying it twice changes nothing.
        retainer._portal_set_mail_preferences(partner, {"alert": False})
        self.assertEqual(self._optouts()[0], partner)
        retainer._portal_set_mail_preferences(
            partner, {"alert": True, "statement": False}
        )
        alerts, statements = self._optouts()
        self.assertFalse(alerts)
        self.assertEqual(statements, partner)

    def test_other_optouts_are_kept(self):
        """Staff switched a colleague off: the customer's own change leaves
        that choice alone."""
        colleague = self.colleague_user.partner_id
        self.retainer.write(
            {
                "notify_partner_ids": [(4, colleague.id)],
                "alert_optout_partner_ids": [(4, colleague.id)],
            }
        )
        partner = self.portal_user.partner_id
        self._as_portal()._portal_set_mail_preferences(partner, {"alert": False})
        self.assertEqual(self._optouts()[0], colleague | partner)
        self._as_portal()._portal_set_mail_preferences(partner, {"alert": True})
        self.assertEqual(self._optouts()[0], colleague)

    def test_only_ones_own_contact(self):
        colleague = self.colleague_user.partner_id
        self.retainer.notify_partner_ids |= colleague
        for partner in (colleague, self.customer, self.other_portal_user.partner_id):
            with self.subTest(partner=partner.name):
                with self.assertRaisesRegex(
                    AccessError,
                    "You can only change your own email preferences, not "
                    f"those of {re.escape(partner.display_name)}",
                ):
                    self._as_portal()._portal_set_mail_preferences(
                        partner, {"alert": False}
                    )
                self.assertEqual(self._optouts(), (self.env["res.partner"],) * 2)

    def test_contact_without_emails(self):
        """A contact who is not notified gets no email: nothing to switch
        off, the form says so instead of showing switches."""
        retainer = self._as_portal(self.colleague_user)
        partner = self.colleague_user.partner_id
        self.assertEqual(
            retainer._portal_mail_preferences(partner),
            {"notified": False, "alert": False, "statement": False},
        )
        with self.assertRaisesRegex(
            UserError,
            f"Retainer {self.retainer.name} sends you no email, so there is "
            "nothing to switch off",
        ):
            retainer._portal_set_mail_preferences(partner, {"alert": False})
        self.assertEqual(self._optouts(), (self.env["res.partner"],) * 2)

    def test_bad_preferences(self):
        partner = self.portal_user.partner_id
        for preferences in ({"sms": False}, {"alert": "off"}, {"alert": None}):
            with self.subTest(preferences=preferences):
                with self.assertRaisesRegex(UserError, "Unknown email preference"):
                    self._as_portal()._portal_set_mail_preferences(partner, preferences)
                self.assertEqual(self._optouts(), (self.env["res.partner"],) * 2)

    # === THE FORM AND ITS ROUTE === #

    def test_form_switches_off_through_the_route(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        page = self.url_open(self._detail_url(self.retainer))
        self.assertIn("o_retainer_mail_preferences_form", page.text)
        self.assertRegex(page.text, r'id="retainer_mail_alert"[^>]*checked')
        response = self._post_preferences(self.retainer, statement="1")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.url.split("#")[0],
            self.base_url() + self._detail_url(self.retainer),
        )
        self.assertIn("o_retainer_mail_preferences_saved", response.text)
        self.assertNotRegex(response.text, r'id="retainer_mail_alert"[^>]*checked')
        self.assertRegex(response.text, r'id="retainer_mail_statement"[^>]*checked')
        alerts, statements = self._optouts()
        self.assertEqual(alerts, self.portal_user.partner_id)
        self.assertFalse(statements)
        # The notice is shown once.
        again = self.url_open(self._detail_url(self.retainer))
        self.assertNotIn("o_retainer_mail_preferences_saved", again.text)

    def test_form_for_a_contact_without_emails(self):
        self.authenticate(self.colleague_user.login, self.colleague_user.login)
        page = self.url_open(self._detail_url(self.retainer))
        self.assertIn("o_retainer_mail_preferences_not_notified", page.text)
        self.assertNotIn("o_retainer_mail_preferences_form", page.text)
        response = self._post_preferences(self.retainer)
        self.assertIn("o_retainer_mail_preferences_error", response.text)
        self.assertIn("sends you no email", response.text)
        self.assertEqual(self._optouts(), (self.env["res.partner"],) * 2)

    def test_share_link_has_no_preferences(self):
        token = self.retainer._portal_ensure_token()
        page = self.url_open(self._detail_url(self.retainer, access_token=token))
        self.assertEqual(page.status_code, 200)
        self.assertIn("Log in to choose which emails", page.text)
        self.assertNotIn("o_retainer_mail_preferences_form", page.text)

    def test_other_customer_refused(self):
        """Another customer's retainer: 404 and nothing written, whoever the
        route would change."""
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self._post_preferences(
            self.retainer, csrf_page=self._detail_url(self.other_retainer)
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self._optouts(), (self.env["res.partner"],) * 2)
        # Their own retainer works.
        self._post_preferences(self.other_retainer, alert="1")
        self.assertEqual(
            self._optouts(self.other_retainer)[1], self.other_portal_user.partner_id
        )

    def test_public_and_get_refused(self):
        # A visitor with the share link has no preferences.
        token = self.retainer._portal_ensure_token()
        response = self._post_preferences(
            self.retainer,
            csrf_page=self._detail_url(self.retainer, access_token=token),
            access_token=token,
        )
        self.assertRegex(response.url, r"/web/login")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        response = self.url_open(
            self._detail_url(self.retainer, suffix="/mail_preferences")
        )
        self.assertEqual(response.status_code, 405)
        # Without the CSRF token.
        response = self.url_open(
            self._detail_url(self.retainer, suffix="/mail_preferences"),
            data={"statement": "1"},
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self._optouts(), (self.env["res.partner"],) * 2)
