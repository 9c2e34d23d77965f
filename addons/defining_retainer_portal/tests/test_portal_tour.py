from odoo.tests import tagged

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalTour(RetainerPortalCommon):
    def test_portal_tour(self):
        """A customer in a real browser: home, list, detail, date filter,
        statement link, top-up request and its confirmation."""
        messages = self.retainer.message_ids
        activities = self.retainer.activity_ids
        self.start_tour(
            "/my", "defining_retainer_portal_tour", login=self.portal_user.login
        )
        self.env.invalidate_all()
        message = self.retainer.message_ids - messages
        self.assertEqual(len(message), 1)
        self.assertIn("Busy month ahead", message.body)
        self.assertIn("2 day(s)", message.body)
        self.assertEqual(len(self.retainer.activity_ids - activities), 1)

    def test_portal_chatter_tour(self):
        """A customer in a real browser: reads the alert email in the
        retainer's conversation, writes a message (it shows, the account
        manager is notified) and switches the alert emails off."""
        partner = self.portal_user.partner_id
        partner.email = "olivia@example.com"
        self.retainer.notify_partner_ids = partner
        template = self.env["mail.template"].create(
            {
                "name": "Tour alert",
                "model_id": self.env["ir.model"]._get_id("retainer.contract"),
                "subject": "Low balance",
                "body_html": "<p>Your balance is low</p>",
            }
        )
        self.env["ir.model.data"].create(
            {
                "module": "__test__",
                "name": "retainer_tour_alert",
                "model": "mail.template",
                "res_id": template.id,
            }
        )
        self.assertTrue(
            self.retainer._retainer_post_customer_mail(
                "__test__.retainer_tour_alert", "alert"
            )
        )
        messages = self.retainer.message_ids
        self.start_tour(
            f"/my/retainers/{self.retainer.id}",
            "defining_retainer_portal_chatter_tour",
            login=self.portal_user.login,
        )
        self.env.invalidate_all()
        message = self.retainer.message_ids - messages
        self.assertEqual(len(message), 1)
        self.assertIn("Can we plan the server move next week?", message.body)
        self.assertEqual(message.author_id, partner)
        self.assertIn(self.manager.partner_id, message.notification_ids.res_partner_id)
        self.assertEqual(self.retainer.alert_optout_partner_ids, partner)
        self.assertFalse(self.retainer.statement_optout_partner_ids)
