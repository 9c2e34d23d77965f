import importlib.util
from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL, file_path

from .common import RetainerCommon

MIGRATION = "defining_retainer/migrations/18.0.5.0.0/post-migrate.py"


def _load_migration():
    spec = importlib.util.spec_from_file_location(
        "retainer_migration_18_0_5", file_path(MIGRATION)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestLedgerDescriptions(RetainerCommon):
    """Every ledger entry says what it is, whatever posted it, and shows its
    time as a duration that is never negative (the sign is in the units)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ledger = cls.env["retainer.ledger.entry"]

    def _entries(self, contract=None):
        return self.Ledger.search(
            [("contract_id", "=", (contract or self.contract).id)], order="id"
        )

    def _post_every_kind(self):
        """A retainer whose ledger holds each kind of entry, each posted the
        way it is in real life; return it."""
        contract = self._create_contract(self.other_customer, self.level_onsite)
        project = self._create_project(contract)
        contract._post_manual_entry(
            "credit",
            20,
            "Goodwill for the outage\nagreed with the customer's director",
            date=date(2026, 1, 1),
            expiry_date=date(2026, 2, 1),
        )
        contract._post_manual_entry("adjustment", -2, "Double-booked call")
        described = self._log(1.0, project=project, date=date(2026, 1, 10))
        undescribed = self._log(0.5, project=project, name=False)
        described.unit_amount = 1.5  # reverses its debit, posts a new one
        self.env["retainer.contract"]._retainer_expire_blocks()
        self.assertEqual(undescribed.name, "/")
        return contract

    def test_every_kind_has_a_description(self):
        contract = self._post_every_kind()
        entries = self._entries(contract)
        self.assertEqual(
            set(entries.mapped("kind")),
            {"credit", "debit", "reversal", "adjustment", "expiry"},
        )
        described = [(entry.kind, entry.units, entry.name) for entry in entries]
        project = f"Support {self.other_customer.name}"
        self.assertEqual(
            described,
            [
                ("credit", 20, "Goodwill for the outage"),
                ("adjustment", -2, "Double-booked call"),
                ("debit", -4, "Support work"),
                ("debit", -2, f"Time logged on {project}"),
                ("reversal", 4, "Support work"),
                ("debit", -6, "Support work"),
                ("expiry", -14, entries[-1].name),
            ],
        )
        self.assertRegex(entries[-1].name, r"^Expiry of Goodwill for the outage of ")
        self.assertFalse(entries.filtered(lambda entry: entry.name in (False, "/")))

    def test_hours_are_never_negative(self):
        self._log(self.hm(3, 37))  # 15 units
        self.contract._post_manual_entry("adjustment", -2, "Correction")
        hours = {entry.kind: entry.hours for entry in self._entries()}
        self.assertEqual(hours, {"credit": 14.0, "debit": 3.75, "adjustment": 0.5})
        reversal = self._entries().filtered("timesheet_id")._reverse()
        self.assertEqual((reversal.units, reversal.hours), (15, 3.75))

    def test_migration_describes_existing_entries(self):
        """Entries posted before descriptions were filled get the ones new
        entries get, and their reversals repeat them."""
        contract = self._post_every_kind()
        self._log(2.0, project=contract.project_ids, name=False).unlink()
        entries = self._entries(contract)
        expected = {entry.id: entry.name for entry in entries}
        self.env.cr.execute(
            SQL(
                "UPDATE retainer_ledger_entry SET name = CASE WHEN mod(id, 2) = 0 "
                "THEN NULL ELSE '/' END WHERE contract_id = %s AND ("
                "kind IN ('credit', 'adjustment', 'reversal') "
                "OR (kind = 'debit' AND name LIKE %s)) RETURNING id",
                contract.id,
                "Time logged on %",
            )
        )
        blanked = self.Ledger.browse(row[0] for row in self.env.cr.fetchall())
        self.env.invalidate_all()
        self.assertEqual(
            set(blanked.mapped("kind")), {"credit", "adjustment", "reversal", "debit"}
        )
        self.assertEqual(set(blanked.mapped("name")), {False, "/"})
        _load_migration().migrate(self.env.cr, "18.0.4.0.0")
        self.env.invalidate_all()
        self.assertEqual({entry.id: entry.name for entry in entries}, expected)
