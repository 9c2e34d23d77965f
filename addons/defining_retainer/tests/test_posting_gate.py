from datetime import date

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL

from .common import RetainerCommon

LOCK = date(2026, 2, 28)
FIRST_OPEN_DAY = date(2026, 3, 1)
# Columns of a ledger row that differ between two postings of the same
# values: the id only. posted_at is compared: both ways take the
# transaction's time.
NOT_COMPARED_COLUMNS = {"id"}


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestPostingGate(RetainerCommon):
    """``retainer.ledger.entry._post``: every posting is checked at once
    (the usage lock date included) before anything is locked or written."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Ledger = cls.env["retainer.ledger.entry"]

    def _locked_message(self, day):
        return (
            rf"Retainer {self.contract.name} is locked up to {LOCK}: an entry "
            rf"dated {day} cannot be posted on it"
        )

    def _post_with_wizard(self, kind, units, day):
        self.env["retainer.ledger.post"].with_user(self.manager).create(
            {
                "contract_id": self.contract.id,
                "kind": kind,
                "units": units,
                "date": day,
                "reason": "Goodwill for the outage",
            }
        ).action_post()

    def _assert_manual_entries_locked(self, kind, units):
        self.contract.with_user(self.manager).usage_lock_date = LOCK
        count = self._ledger_count()
        notes = len(self.contract.message_ids)
        as_manager = self.contract.with_user(self.manager)
        for day in (date(2026, 2, 10), LOCK):
            with (
                self.subTest(day=day, way="model"),
                self.assertRaisesRegex(UserError, self._locked_message(day)),
            ):
                as_manager._post_manual_entry(kind, units, "Goodwill", date=day)
            with (
                self.subTest(day=day, way="wizard"),
                self.assertRaisesRegex(UserError, self._locked_message(day)),
            ):
                self._post_with_wizard(kind, units, day)
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(len(self.contract.message_ids), notes)
        # The day after the lock date is open.
        entry = as_manager._post_manual_entry(
            kind, units, "Goodwill", date=FIRST_OPEN_DAY
        )
        self.assertEqual(entry.date, FIRST_OPEN_DAY)
        self._post_with_wizard(kind, units, FIRST_OPEN_DAY)
        self.assertEqual(self._ledger_count(), count + 2)

    def test_manual_credit_in_a_locked_period_is_refused(self):
        self._assert_manual_entries_locked("credit", 8)

    def test_adjustment_in_a_locked_period_is_refused(self):
        self._assert_manual_entries_locked("adjustment", -2)

    def test_every_problem_is_reported_at_once(self):
        self.contract.usage_lock_date = LOCK
        count = self._ledger_count()
        contract_id = self.contract.id
        with self.assertRaisesRegex(UserError, "needs a reason") as caught:
            self.Ledger._post(
                [
                    {"contract_id": contract_id, "kind": "credit", "units": 4},
                    {
                        "contract_id": contract_id,
                        "kind": "credit",
                        "units": 4,
                        "reason": "Block",
                        "date": date(2026, 3, 10),
                        "expiry_date": date(2026, 3, 1),
                    },
                    {
                        "contract_id": contract_id,
                        "kind": "adjustment",
                        "units": -2,
                        "reason": "Correction",
                        "date": date(2026, 2, 10),
                    },
                ]
            )
        message = str(caught.exception)
        self.assertIn("A block cannot expire (2026-03-01) before its date", message)
        self.assertRegex(message, self._locked_message(date(2026, 2, 10)))
        self.assertEqual(self._ledger_count(), count)

    def test_reversal_of_locked_usage_is_posted_after_the_lock(self):
        sheet = self._log(1.0, date=date(2026, 2, 10))
        debit = self.Ledger._retainer_active_debits(sheet)
        self.contract.usage_lock_date = LOCK
        count = self._ledger_count()
        # A date chosen inside the locked period is refused...
        with self.assertRaisesRegex(UserError, self._locked_message(date(2026, 2, 20))):
            debit._reverse(reason="Logged twice", date=date(2026, 2, 20))
        self.assertEqual(self._ledger_count(), count)
        # ... the usual date (the debit's own) becomes the first open day:
        # the locked period keeps what was reported.
        reversal = debit._reverse(reason="Logged twice")
        self.assertEqual(reversal.date, FIRST_OPEN_DAY)
        self.assertEqual(reversal.units, 4)

    def test_one_posting_reverses_with_a_reason_per_entry(self):
        first = self._log(1.0)
        second = self._log(0.5)
        debits = self.Ledger._retainer_active_debits(first | second)
        first_debit = debits.filtered(lambda debit: debit.timesheet_id == first)
        second_debit = debits - first_debit
        reversals = self.Ledger._post(
            [
                {
                    "contract_id": self.contract.id,
                    "kind": "adjustment",
                    "units": -1,
                    "reason": "Call set-up",
                }
            ],
            reverse=debits,
            reason={
                first_debit.id: "Logged twice",
                second_debit.id: "Wrong customer",
            },
        ).filtered(lambda entry: entry.kind == "reversal")
        self.assertEqual(
            {(r.reversed_entry_id, r.reason) for r in reversals},
            {(first_debit, "Logged twice"), (second_debit, "Wrong customer")},
        )
        # The same through _reverse.
        third_debit = self.Ledger._retainer_active_debits(self._log(0.25))
        reversal = third_debit._reverse(reason={third_debit.id: "Test entry"})
        self.assertEqual(reversal.reason, "Test entry")

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
