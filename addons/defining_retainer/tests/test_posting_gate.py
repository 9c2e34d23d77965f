from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL

from .common import RetainerCommon

# Columns of a ledger row that differ between two postings of the same
# values: the id only. posted_at is compared: both ways take the
# transaction's time.
NOT_COMPARED_COLUMNS = {"id"}


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestPostingGate(RetainerCommon):
    """``retainer.ledger.entry._post`` and the raw insert below it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ledger = cls.env["retainer.ledger.entry"]

    # === THE RAW INSERT AGAINST THE ORM === #

    def _stored_columns(self):
        self.env.cr.execute(
            SQL(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'retainer_ledger_entry' ORDER BY column_name"
            )
        )
        return [
            name
            for (name,) in self.env.cr.fetchall()
            if name not in NOT_COMPARED_COLUMNS
        ]

    def _stored_row(self, post, columns):
        """The stored row of the one entry ``post()`` writes, as the table
        holds it; the posting is then rolled back."""
        with self.env.cr.savepoint() as savepoint:
            entry = post()
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    "SELECT %s FROM retainer_ledger_entry WHERE id = %s",
                    SQL(", ").join(SQL.identifier(name) for name in columns),
                    entry.id,
                )
            )
            row = dict(zip(columns, self.env.cr.fetchone(), strict=True))
            savepoint.rollback()
        self.env.invalidate_all()
        return row

    def test_insert_writes_what_create_writes(self):
        """``_insert_entries`` inserts below the ORM: every stored column of
        its rows must be what ``create()`` writes for the same values."""
        block = self.contract._post_manual_entry(
            "credit", 8, "Block", date=date(2026, 1, 1), expiry_date=date(2026, 2, 1)
        )
        sheet = self._log(1.0, date=date(2026, 3, 2), retainer_contact_type="onsite")
        debit = self.Ledger._retainer_active_debits(sheet)
        self.contract.rollover_max_units = 4
        examples = {
            "credit with expiry": {
                "contract_id": self.contract.id,
                "kind": "credit",
                "units": 8,
                "reason": "Goodwill\nfor the outage",
                "date": date(2026, 3, 1),
                "expiry_date": date(2026, 6, 30),
            },
            "debit of a timesheet": sheet._retainer_prepare_debit_vals_list()[0],
            "reversal": debit._prepare_reversal_vals("Logged twice")[0],
            "adjustment": {
                "contract_id": self.contract.id,
                "kind": "adjustment",
                "units": -2,
                "reason": "Double-booked call",
            },
            "expiry": self.contract._retainer_prepare_expiry_vals(block, -8),
            "rollover": self.contract._retainer_prepare_rollover_vals(block, 4),
        }
        columns = self._stored_columns()
        for label, vals in examples.items():
            with self.subTest(entry=label):
                inserted = self._stored_row(
                    lambda vals=vals: self.Ledger._insert_entries([dict(vals)]),
                    columns,
                )
                # create() is for data files, run as superuser.
                created = self._stored_row(
                    lambda vals=vals: self.Ledger.sudo().create([dict(vals)]),
                    columns,
                )
                self.assertEqual(inserted, created)
                self.assertEqual(inserted["kind"], vals["kind"])
