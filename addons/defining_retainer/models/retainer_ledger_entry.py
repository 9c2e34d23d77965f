from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, split_every

from ..tools.rounding import units_to_hours

CONTACT_TYPE_SELECTION = [
    ("phone", "Telephone"),
    ("remote", "Remote control"),
    ("onsite", "On-site"),
]


class RetainerLedgerEntry(models.Model):
    """One signed movement of units on a retainer.

    The ledger is append-only: nobody writes or deletes an entry; mistakes
    are cancelled by a reversal or corrected by an adjustment, so the history
    always shows what happened. Credits carry a date and an optional expiry
    date so that blocks can later be consumed oldest-first and expired by an
    ``expiry`` entry pointing at its block, without rewriting anything.
    """

    _name = "retainer.ledger.entry"
    _description = "Retainer Ledger Entry"
    _order = "date desc, id desc"
    _check_company_auto = True
    # The author and the time of posting are user_id and posted_at; without
    # the ORM's create/write columns a row costs two foreign-key checks less.
    _log_access = False

    # === FIELDS === #

    contract_id = fields.Many2one(
        "retainer.contract",
        string="Retainer",
        required=True,
        ondelete="restrict",
        index=True,
        readonly=True,
    )
    # Read through the contract, not stored: every stored many2one costs a
    # foreign-key check on each of the many rows a timesheet batch posts.
    company_id = fields.Many2one(related="contract_id.company_id")
    partner_id = fields.Many2one(related="contract_id.partner_id")
    kind = fields.Selection(
        [
            ("credit", "Credit"),
            ("debit", "Debit"),
            ("reversal", "Reversal"),
            ("adjustment", "Adjustment"),
            ("expiry", "Expiry"),
        ],
        required=True,
        readonly=True,
    )
    units = fields.Integer(required=True, readonly=True, aggregator="sum")
    unit_minutes = fields.Integer(
        readonly=True, help="Length of one unit when the entry was posted."
    )
    billed_hours = fields.Float(readonly=True, aggregator="sum")
    date = fields.Date(
        required=True, readonly=True, index=True, default=fields.Date.context_today
    )
    name = fields.Char(string="Description", readonly=True)
    # Internal: portal users never read it (the portal shows each entry's
    # customer-facing text, see defining_retainer_portal).
    reason = fields.Text(readonly=True, groups="base.group_user")
    posted_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    user_id = fields.Many2one(
        "res.users", string="Posted by", readonly=True, default=lambda s: s.env.user
    )
    # Usage snapshot, so the history survives edits and deletions of the
    # timesheet it came from.
    timesheet_id = fields.Many2one(
        "account.analytic.line",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    employee_id = fields.Many2one("hr.employee", string="Consultant", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    contact_type = fields.Selection(CONTACT_TYPE_SELECTION, readonly=True)
    entered_hours = fields.Float(readonly=True, aggregator="sum")
    # Source of a sold credit: the order line it tops up from and, when the
    # credit waited for it, the invoice (also the source of overdraft credits).
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Order line",
        ondelete="restrict",
        index="btree_not_null",
        readonly=True,
    )
    invoice_id = fields.Many2one(
        "account.move",
        ondelete="restrict",
        index="btree_not_null",
        readonly=True,
    )
    reversed_entry_id = fields.Many2one(
        "retainer.ledger.entry",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
    )
    reversal_entry_ids = fields.One2many("retainer.ledger.entry", "reversed_entry_id")
    reversed_kind = fields.Selection(
        selection=lambda self: self._fields["kind"].selection, readonly=True
    )
    expiry_date = fields.Date(
        readonly=True, help="For credits: unused units of this block expire then."
    )
    block_entry_id = fields.Many2one(
        "retainer.ledger.entry",
        string="Credit block",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="For expiries: the credit block whose unused units expire.",
    )

    _sql_constraints = [
        (
            "reversed_once",
            "UNIQUE(reversed_entry_id)",
            "This entry is already reversed.",
        ),
        (
            "units_sign",
            (
                "CHECK((kind = 'credit' AND units > 0) OR (kind IN ('debit', 'expiry') "
                "AND units < 0) OR (kind = 'adjustment' AND units != 0) "
                "OR (kind = 'reversal' AND reversed_entry_id IS NOT NULL))"
            ),
            (
                "Credits are positive, debits and expiries negative, adjustments "
                "not zero, and a reversal names the entry it reverses."
            ),
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("contract_id", "kind", "units")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for entry in self:
            entry.display_name = (
                f"{entry.contract_id.name} {kinds.get(entry.kind, '')} {entry.units:+d}"
            )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        # Rows arrive through _post() and _reverse(), which validate them
        # and insert below the ORM. create() stays for data files (run as
        # superuser); the ACL gives nobody else create access, and this
        # guard says so clearly.
        if not self.env.is_superuser():
            raise UserError(
                self.env._("Ledger entries are posted, never created by hand.")
            )
        return super().create(self._prepare_entry_vals(vals_list))

    def write(self, vals):  # pylint: disable=method-required-super
        # Append-only: no code path may change an entry, so super() is never
        # reached on purpose.
        raise UserError(
            self.env._(
                "Ledger entries cannot be changed: post a reversal or an adjustment."
            )
        )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_always(self):
        raise UserError(
            self.env._(
                "Ledger entries cannot be deleted: post a reversal or an adjustment."
            )
        )

    # === BUSINESS METHODS === #

    @api.model
    def _prepare_entry_vals(self, vals_list):
        """Complete ``vals_list`` (in place) with what every entry copies when
        it is posted: company, customer, unit length, billed hours, the kind
        it reverses, its date and author."""
        contracts = self.env["retainer.contract"].browse(
            {vals["contract_id"] for vals in vals_list}
        )
        unit_minutes_by_contract = {
            contract.id: contract.rounding_unit_minutes for contract in contracts
        }
        reversed_entries = self.browse(
            {
                vals["reversed_entry_id"]
                for vals in vals_list
                if vals.get("reversed_entry_id")
            }
        )
        kind_by_entry = {entry.id: entry.kind for entry in reversed_entries}
        defaults = {
            "date": fields.Date.context_today(self),
            "user_id": self.env.uid,
            "posted_at": self.env.cr.now(),
        }
        for vals in vals_list:
            vals.update(defaults | vals)
            vals.setdefault(
                "unit_minutes", unit_minutes_by_contract[vals["contract_id"]]
            )
            vals["billed_hours"] = -units_to_hours(
                vals.get("units", 0), vals["unit_minutes"]
            )
            if vals.get("reversed_entry_id"):
                vals["reversed_kind"] = kind_by_entry[vals["reversed_entry_id"]]
        return vals_list

    @api.model
    def _insert_entries(self, vals_list):
        """Insert entries in one query per 10,000 rows and return them.

        Measured: through create(), the ledger rows of a 10,000-timesheet
        batch cost about half of the retainer's whole overhead. Entries are
        append-only, have no computed or translated fields and no Python
        constraints, so they are inserted directly, one array per column
        (``unnest``), and then announced to the ORM as create() would.
        """
        if not vals_list:
            return self.browse()
        vals_list = self._prepare_entry_vals(vals_list)
        names = sorted(set().union(*vals_list))
        fields_ = [self._fields[name] for name in names]
        if any(not field.store or not field.column_type for field in fields_):
            raise ValidationError(
                self.env._("Only stored ledger fields can be posted.")
            )
        # Plain values go to the database as they are (False meaning NULL);
        # any other field type takes the ORM's conversion.
        empty = self.browse()
        plain = {
            "many2one",
            "integer",
            "float",
            "char",
            "text",
            "selection",
            "date",
            "datetime",
        }

        def column(field, batch):
            name = field.name
            if field.type in plain:
                values = [vals.get(name) for vals in batch]
                return [None if value is False else value for value in values]
            return [
                field.convert_to_column_insert(vals.get(name), empty) for vals in batch
            ]

        columns = SQL(", ").join(SQL.identifier(name) for name in names)
        ids = []
        for batch in split_every(10000, vals_list):
            arrays = SQL(", ").join(
                SQL("%s::%s[]", column(field, batch), SQL(field.column_type[1]))
                for field in fields_
            )
            self.env.cr.execute(
                SQL(
                    "INSERT INTO retainer_ledger_entry (%s) "
                    "SELECT * FROM unnest(%s) RETURNING id",
                    columns,
                    arrays,
                )
            )
            ids.extend(row[0] for row in self.env.cr.fetchall())
        entries = self.browse(ids)
        # What create() does for the rest of the ORM: caches of the
        # contracts' ledgers and of the balances computed from them.
        contracts = self.env["retainer.contract"].browse(
            {vals["contract_id"] for vals in vals_list}
        )
        contracts.invalidate_recordset(["ledger_entry_ids"])
        reversed_ids = {vals.get("reversed_entry_id") for vals in vals_list}
        self.browse(reversed_ids - {None, False}).invalidate_recordset(
            ["reversal_entry_ids"]
        )
        entries.modified(names, create=True)
        return entries

    @api.model
    def _post(self, vals_list):
        """Append entries to the ledger and return them.

        The only way rows get into the ledger. Callers validate the business
        side (rights on the source document, overdraft); this checks the
        shape of each entry and writes the contract rows so that concurrent
        postings on a contract serialize (see ``_lock_for_posting``).
        """
        if not vals_list:
            return self.browse()
        contracts = self.env["retainer.contract"].browse(
            sorted({vals["contract_id"] for vals in vals_list})
        )
        source_fields = self._retainer_source_fields()
        for vals in vals_list:
            if vals.get("kind") == "reversal":
                raise ValidationError(self.env._("Reversals are posted by _reverse()."))
            has_source = any(vals.get(fname) for fname in source_fields)
            if (
                vals.get("kind") in ("credit", "adjustment")
                and not has_source
                and not (vals.get("reason") or "").strip()
            ):
                raise UserError(
                    self.env._("A manual credit or adjustment needs a reason.")
                )
        contracts._lock_for_posting()
        # Inserted below the ORM's access checks: nobody holds create access
        # on the ledger (it must not be writable through the API); the shape
        # was checked above and callers checked the user's rights on the
        # source document.
        return self._insert_entries(vals_list)

    def _reverse(self, reason=None, date=None):
        """Post one reversal per entry in ``self`` and return them.

        A reversal carries the opposite units and points at its entry; a
        unique constraint makes a second reversal of the same entry fail.
        Timesheet debits are reversed on their own date so a period's usage
        stays right whatever day it is corrected (the usage lock date
        protects periods already reported).
        """
        if not self:
            return self
        if self.filtered(lambda e: e.kind == "reversal"):
            raise UserError(self.env._("A reversal cannot itself be reversed."))
        already = self.filtered("reversal_entry_ids")
        if already:
            raise UserError(
                self.env._(
                    "Entry %(entry)s is already reversed.",
                    entry=already[0].display_name,
                )
            )
        self.contract_id._lock_for_posting()
        vals_list = [
            {
                "contract_id": entry.contract_id.id,
                "kind": "reversal",
                "units": -entry.units,
                "unit_minutes": entry.unit_minutes,
                "reversed_entry_id": entry.id,
                "date": date
                or (
                    entry.date
                    if entry.timesheet_id
                    else fields.Date.context_today(self)
                ),
                "reason": reason,
                "name": entry.name,
                "timesheet_id": entry.timesheet_id.id,
                "sale_line_id": entry.sale_line_id.id,
                "invoice_id": entry.invoice_id.id,
                "employee_id": entry.employee_id.id,
                "project_id": entry.project_id.id,
                "contact_type": entry.contact_type,
                "entered_hours": -entry.entered_hours,
            }
            for entry in self
        ]
        return self._insert_entries(vals_list)

    @api.model
    def _retainer_active_debits(self, timesheets):
        """Return the debits of ``timesheets`` that are not reversed (one
        query for the batch)."""
        if not timesheets:
            return self.browse()
        return self.search(
            [
                ("timesheet_id", "in", timesheets.ids),
                ("kind", "=", "debit"),
                ("reversal_entry_ids", "=", False),
            ]
        )

    @api.model
    def _retainer_source_fields(self):
        """Fields naming the document a credit comes from (an order line, an
        invoice...). A credit without one is manual and needs a reason."""
        return ["timesheet_id", "sale_line_id", "invoice_id"]

    @api.model
    def _retainer_totals(self, contract_ids):
        """Return ``{contract_id: {purchased, used, balance, count}}`` in units,
        from one grouped query whatever the number of contracts."""
        totals = defaultdict(lambda: defaultdict(int))
        if not contract_ids:
            return totals
        groups = self._read_group(
            [("contract_id", "in", list(contract_ids))],
            ["contract_id", "kind", "reversed_kind"],
            ["units:sum", "__count"],
        )
        for contract, kind, reversed_kind, units, count in groups:
            figures = totals[contract.id]
            figures["balance"] += units
            figures["count"] += count
            effective_kind = reversed_kind if kind == "reversal" else kind
            if effective_kind == "credit":
                figures["purchased"] += units
            elif effective_kind == "debit":
                figures["used"] -= units
        return totals
