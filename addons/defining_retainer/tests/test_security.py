from odoo import api
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import RetainerCommon

MODIFY_RETAINER = r"not allowed to modify 'Retainer' \(retainer.contract\)"
CREATE_RETAINER = r"not allowed to create 'Retainer' \(retainer.contract\)"


@tagged("post_install", "-at_install", "defining_retainer")
class TestSecurity(RetainerCommon):
    def test_user_reads_but_does_not_manage(self):
        contract = self.contract.with_user(self.consultant)
        self.assertEqual(contract.balance_units, 56)
        self.assertTrue(contract.ledger_entry_ids)
        with self.assertRaisesRegex(AccessError, MODIFY_RETAINER):
            contract.write({"overdraft_policy": "allow"})
        with self.assertRaisesRegex(AccessError, MODIFY_RETAINER):
            contract.write({"usage_lock_date": "2020-01-01"})
        with self.assertRaisesRegex(AccessError, CREATE_RETAINER):
            self.env["retainer.contract"].with_user(self.consultant).create(
                {"partner_id": self.customer.id, "level_id": self.level_phone.id}
            )
        with self.assertRaisesRegex(AccessError, r"not allowed to modify .*Level"):
            self.level_phone.with_user(self.consultant).write({"allow_onsite": True})

    def test_ledger_refused_through_external_api(self):
        """The calls an XML-RPC client can make, through the same dispatcher
        (``odoo.api.call_kw``), as a consultant and as a manager."""
        entry = self.contract.ledger_entry_ids
        count = self._ledger_count()
        new_vals = {"contract_id": self.contract.id, "kind": "credit", "units": 9}
        calls = [
            ("write", [[entry.id], {"units": 9999}], {}, "cannot be changed"),
            ("unlink", [[entry.id]], {}, "not allowed to delete"),
            ("create", [[new_vals]], {}, "never created by hand"),
            # a client may forge any context: it must not open the door
            (
                "create",
                [[new_vals]],
                {"context": {"retainer_ledger_post": True}},
                "never created by hand",
            ),
        ]
        for user in (self.consultant, self.manager):
            model = self.env["retainer.ledger.entry"].with_user(user)
            for method, args, kwargs, message in calls:
                with (
                    self.subTest(user=user.login, method=method, kwargs=kwargs),
                    self.assertRaisesRegex(UserError, message),
                ):
                    api.call_kw(model, method, args, kwargs)
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(entry.units, 56)

    def test_multi_company_isolation(self):
        company_b, user_b = self._user_of_other_company(
            "Retainer Co B", "user_company_b"
        )
        contract_b = self.env["retainer.contract"].create(
            {
                "partner_id": self.customer.id,
                "company_id": company_b.id,
                "level_id": self.level_phone.id,
            }
        )
        visible = self.env["retainer.contract"].with_user(user_b).search([])
        self.assertIn(contract_b, visible)
        self.assertNotIn(self.contract, visible)
        self.assertFalse(
            self.env["retainer.ledger.entry"]
            .with_user(user_b)
            .search([("contract_id", "=", self.contract.id)])
        )
        with self.assertRaisesRegex(AccessError, "multi-company issue"):
            self.contract.with_user(user_b).read(["balance_units"])
