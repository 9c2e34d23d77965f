from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import RetainerCommon

ARCHIVED = r"Support level Test Telephone is archived: choose an active level\."


@tagged("post_install", "-at_install", "defining_retainer")
class TestArchivedLevel(RetainerCommon):
    """An archived support level is kept by the retainers that have it, and
    refused to any other: new retainers and changes of level."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.on_phone = cls._create_contract(cls.other_customer, cls.level_phone)
        cls.level_phone.active = False

    def _contract_count(self):
        return (
            self.env["retainer.contract"]
            .with_context(active_test=False)
            .search_count([])
        )

    def test_new_retainer_refuses_archived_level(self):
        count = self._contract_count()
        Contract = self.env["retainer.contract"].with_user(self.manager)
        with self.assertRaisesRegex(ValidationError, ARCHIVED):
            Contract.create(
                {"partner_id": self.customer.id, "level_id": self.level_phone.id}
            )
        with self.assertRaisesRegex(ValidationError, ARCHIVED):
            Contract.create(
                [
                    {"partner_id": self.customer.id, "level_id": self.level_onsite.id},
                    {"partner_id": self.customer.id, "level_id": self.level_phone.id},
                ]
            )
        self.assertEqual(self._contract_count(), count)

    def test_change_to_archived_level_refused(self):
        contract = self.contract.with_user(self.manager)
        with self.assertRaisesRegex(ValidationError, ARCHIVED):
            contract.write({"level_id": self.level_phone.id})
        with self.assertRaisesRegex(ValidationError, ARCHIVED):
            (contract | self.on_phone).write({"level_id": self.level_phone.id})
        self.env.invalidate_all()
        self.assertEqual(self.contract.level_id, self.level_onsite)

    def test_retainer_keeps_its_archived_level(self):
        contract = self.on_phone.with_user(self.manager)
        contract.write({"overdraft_policy": "block", "usage_lock_date": "2026-01-31"})
        # Saving the level it already has (a full form or an import) is no
        # change of level.
        contract.write({"level_id": self.level_phone.id, "low_balance_units": 8})
        self.env.invalidate_all()
        self.assertEqual(self.on_phone.level_id, self.level_phone)
        self.assertEqual(self.on_phone.overdraft_policy, "block")
        self.assertEqual(self.on_phone.low_balance_units, 8)
        # And it may leave it for an active level.
        contract.level_id = self.level_onsite
        self.assertEqual(self.on_phone.level_id, self.level_onsite)

    def test_level_choices_hide_archived(self):
        domain = (
            self.env["retainer.contract"]
            ._fields["level_id"]
            .get_domain_list(self.env["retainer.contract"])
        )
        choices = (
            self.env["retainer.level"].with_context(active_test=False).search(domain)
        )
        self.assertIn(self.level_onsite, choices)
        self.assertNotIn(self.level_phone, choices)
