from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestStaffTour(RetainerCommon, HttpCase):
    def test_staff_tour(self):
        """A retainer manager in a real browser: the Retainers app from the
        home menu, the ledger list, the pivot and graph of the usage, and
        the balance graph of a retainer."""
        today = fields.Date.context_today(self.contract)
        self._log(1.0, name="Printer set-up", date=today - timedelta(days=40))
        self._log(
            self.hm(2, 10), name="Server patching", date=today - timedelta(days=5)
        )
        self._log(0.5, user=self.manager, name="Phone advice", date=today)
        self.start_tour(
            "/odoo", "defining_retainer_staff_tour", login=self.manager.login
        )
