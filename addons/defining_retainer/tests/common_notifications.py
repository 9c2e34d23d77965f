from .common import RetainerCommon


class NotificationsCommon(RetainerCommon):
    """The common retainer (56 units) with a low balance alert at 28 units
    and a reachable contact. The concrete classes run on ``TODAY`` (a
    freeze_time on this base class would set up the base, not them)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {
                "email": "support@quarterhour.example.com",
                "retainer_low_balance_units": 28,
                "retainer_expiry_warning_days": "30,7",
            }
        )
        cls.customer_contact.email = "quinn@customer.example.com"
        cls.contract.write(
            {"low_balance_units": 28, "notify_partner_ids": cls.customer_contact.ids}
        )
        cls.alert_subtype = cls.env.ref("defining_retainer.mt_retainer_alert")
        cls.Ledger = cls.env["retainer.ledger.entry"]

    def _alerts(self, contract=None):
        return self.env["mail.message"].search(
            [
                ("model", "=", "retainer.contract"),
                ("res_id", "in", (contract or self.contract).ids),
                ("subtype_id", "=", self.alert_subtype.id),
            ],
            order="id",
        )

    def _mails(self, messages):
        return self.env["mail.mail"].search([("mail_message_id", "in", messages.ids)])

    def _activities(self, summary, contract=None):
        return (contract or self.contract).activity_ids.filtered(
            lambda a: a.summary == summary
        )

    def _top_up(self, units, contract=None):
        (contract or self.contract)._post_manual_entry("credit", units, "Top-up")
