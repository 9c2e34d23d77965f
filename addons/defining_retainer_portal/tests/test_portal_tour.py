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
