from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestLedger(RetainerCommon):
    def test_balance_is_the_sum_of_the_ledger(self):
        contract = self.contract
        self.assertEqual(contract.purchased_units, 56)
        self.assertEqual(contract.balance_units, 56)
        self.assertEqual(contract.balance_hours, 14.0)
        self.assertEqual(contract.balance_days, 2.0)
        self._log(self.hm(3, 37))
        contract.invalidate_recordset()
        self.assertEqual(contract.used_units, 15)
        self.assertEqual(contract.balance_units, 41)
        self.assertEqual(contract.balance_hours, 10.25)
        self.assertAlmostEqual(contract.balance_days, 41 / 28)
        contract.with_user(self.manager)._post_manual_entry(
            "adjustment", -1, "Goodwill correction"
        )
        contract.invalidate_recordset()
        self.assertEqual(contract.balance_units, 40)
        self.assertEqual(contract.purchased_units, 56, "adjustments are not purchases")
        self.assertEqual(contract.used_units, 15, "adjustments are not usage")

    def test_day_is_contract_day_not_uom_day(self):
        contract = self._create_contract(
            self.customer, self.level_phone, units=28, day_hours=7.0
        )
        self.assertEqual(contract.balance_days, 1.0)
        self.assertEqual(contract.balance_hours, 7.0)

    def test_entries_are_append_only(self):
        entry = self.contract.ledger_entry_ids
        self.assertEqual(len(entry), 1)
        for user in (self.env.user, self.manager):
            with self.subTest(user=user.login):
                with self.assertRaisesRegex(UserError, "entries cannot be changed"):
                    entry.with_user(user).write({"units": 560})
                # the manager has no delete right at all: the ACL refuses first
                with self.assertRaisesRegex(
                    UserError, "entries cannot be deleted|not allowed to delete"
                ):
                    entry.with_user(user).unlink()
        self.assertEqual(entry.units, 56)

    def test_nobody_creates_entries_directly(self):
        count = self._ledger_count()
        vals = {"contract_id": self.contract.id, "kind": "credit", "units": 1000}
        for user in (self.consultant, self.manager):
            with (
                self.subTest(user=user.login),
                self.assertRaisesRegex(UserError, "posted, never created by hand"),
            ):
                self.env["retainer.ledger.entry"].with_user(user).create(vals)
        self.assertEqual(self._ledger_count(), count)

    def test_reversal_is_exact_and_unique(self):
        entry = self.contract.ledger_entry_ids
        reversal = entry._reverse(reason="Sold by mistake")
        self.assertEqual(reversal.kind, "reversal")
        self.assertEqual(reversal.units, -56)
        self.assertEqual(reversal.reversed_entry_id, entry)
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.balance_units, 0)
        self.assertEqual(self.contract.purchased_units, 0)
        count = self._ledger_count()
        with self.assertRaisesRegex(UserError, "is already reversed"):
            entry._reverse()
        with self.assertRaisesRegex(UserError, "reversal cannot itself be reversed"):
            reversal._reverse()
        self.assertEqual(self._ledger_count(), count)

    def test_manual_entries_need_manager_and_reason(self):
        count = self._ledger_count()
        with self.assertRaisesRegex(AccessError, "Only a retainer manager can do"):
            self.contract.with_user(self.consultant)._post_manual_entry(
                "credit", 4, "I deserve it"
            )
        as_manager = self.contract.with_user(self.manager)
        for kind, units, reason, message in (
            ("credit", 4, "", "needs a reason"),
            ("adjustment", -2, "   ", "needs a reason"),
            ("credit", -4, "Negative credit", "must add a positive number"),
            ("adjustment", 0, "Nothing", "adjustment of zero units"),
            ("debit", -4, "Not by hand", "Only credits and adjustments"),
        ):
            with (
                self.subTest(kind=kind, units=units, reason=reason),
                self.assertRaisesRegex(UserError, message),
            ):
                as_manager._post_manual_entry(kind, units, reason)
        self.assertEqual(self._ledger_count(), count)
        entry = as_manager._post_manual_entry("credit", 4, "Free hour for the outage")
        self.assertEqual(entry.user_id, self.manager)
        self.assertEqual(entry.reason, "Free hour for the outage")

    def test_ledger_wizard(self):
        wizard = (
            self.env["retainer.ledger.post"]
            .with_user(self.manager)
            .create(
                {
                    "contract_id": self.contract.id,
                    "kind": "adjustment",
                    "units": -3,
                    "reason": "Duplicate call",
                }
            )
        )
        wizard.action_post()
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.balance_units, 53)

    def test_unit_length_is_fixed_once_entries_exist(self):
        message = "already has ledger entries: its unit length, customer"
        with self.assertRaisesRegex(UserError, message):
            self.contract.write({"rounding_unit_minutes": 30})
        with self.assertRaisesRegex(UserError, message):
            self.contract.write({"partner_id": self.other_customer.id})
        # the other policy fields may change: they only affect future entries
        self.contract.write({"rounding_method": "up", "rounding_grace_minutes": 0})

    def test_contract_with_entries_cannot_be_deleted(self):
        with self.assertRaisesRegex(UserError, "cannot be deleted: close it"):
            self.contract.unlink()

    def test_reversals_only_through_reverse(self):
        with self.assertRaisesRegex(ValidationError, r"posted by _reverse\(\)"):
            self.env["retainer.ledger.entry"]._post(
                [{"contract_id": self.contract.id, "kind": "reversal", "units": 5}]
            )

    @mute_logger("odoo.sql_db")
    def test_database_refuses_wrong_signs(self):
        for kind, units in (("credit", -5), ("debit", 5), ("expiry", 3)):
            with (
                self.subTest(kind=kind, units=units),
                self.assertRaisesRegex(IntegrityError, "ledger_entry_units_sign"),
                self.cr.savepoint(),
            ):
                self.env["retainer.ledger.entry"]._post(
                    [
                        {
                            "contract_id": self.contract.id,
                            "kind": kind,
                            "units": units,
                            "reason": "shape test",
                        }
                    ]
                )
                self.env.flush_all()

    def test_balances_in_constant_queries(self):
        contracts = self.contract
        for _i in range(2):
            contracts |= self._create_contract(self.customer, self.level_phone, units=4)
        more = contracts
        for _i in range(20):
            more |= self._create_contract(self.customer, self.level_phone, units=4)
        self.env.flush_all()
        counts = []
        for records in (contracts, more):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            records.mapped("balance_days")
            records.mapped("used_units")
            counts.append(self.cr.sql_log_count - before)
        self.assertEqual(counts[0], counts[1], "3 and 23 contracts: same queries")
        self.assertLessEqual(counts[0], 3)
        self.assertEqual(sum(more.mapped("purchased_units")), 56 + 22 * 4)
