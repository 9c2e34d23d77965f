import functools
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, create_index, format_date, split_every

from ..tools.allocation import (
    CHECKPOINT_VERSION,
    LedgerReplay,
    StaleCheckpoint,
    newest_settled,
)
from ..tools.rounding import units_to_hours
from .res_company import ROUNDING_SCOPE_SELECTION, TOPUP_ORIGIN_SELECTION

# What a replay of the allocation reads of each ledger row (see
# tools/allocation.py, LedgerReplay.from_rows).
REPLAY_COLUMNS = (
    "id",
    "contract_id",
    "kind",
    "units",
    "date",
    "expiry_date",
    "reversed_entry_id",
    "block_entry_id",
)
# A replay from a checkpoint also reads the kind a reversal reverses (the
# entry itself may be before the checkpoint).
CHECKPOINT_REPLAY_COLUMNS = (*REPLAY_COLUMNS, "reversed_kind")
# A posting that replayed at least this many entries after the newest
# checkpoint of a retainer writes a new one (see retainer.ledger.checkpoint):
# a replay reads at most about this many entries, whatever the ledger's size.
CHECKPOINT_EVERY = 64
# Entries reaching back before a checkpoint (a late correction of old work,
# a block taken away) make the replay start from an older one; after this
# many tries, from the first entry.
MAX_CHECKPOINT_TRIES = 6
# Key of the cursor's cache holding the ledger rows this transaction
# inserted (see _retainer_own_rows).
OWN_ROWS_KEY = "retainer_ledger_own_rows"
NO_LIMIT = 2**31 - 1
# Blocks whose units expire within this many days are announced ("N units
# expire on DATE") on the retainer, its statement and the portal.
EXPIRING_SOON_DAYS = 30
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

    # Indexed with the id (see init()): the index on contract_id alone
    # served no read that one does not, and took the planner off the
    # range of the entries after a checkpoint.
    contract_id = fields.Many2one(
        "retainer.contract",
        string="Retainer",
        required=True,
        ondelete="restrict",
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
    # Signed like usage (a debit's hours are positive, a credit's negative):
    # what the statement and the portal show for work. People read ``hours``.
    billed_hours = fields.Float(readonly=True, aggregator="sum")
    hours = fields.Float(
        compute="_compute_hours",
        help="Time the entry's units stand for, never negative: the sign is "
        "in the units.",
    )
    date = fields.Date(
        required=True, readonly=True, index=True, default=fields.Date.context_today
    )
    name = fields.Char(string="Description", readonly=True)
    # Internal: portal users never read it (the portal shows each entry's
    # customer-facing text, see defining_retainer_portal).
    reason = fields.Text(readonly=True, groups="base.group_user")
    posted_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    user_id = fields.Many2one(
        "res.users",
        string="Posted by",
        readonly=True,
        default=lambda s: s.env.user,
        groups="base.group_user",
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
    # The incident of usage ("project.task,7", see
    # account.analytic.line._retainer_incident_refs) and how it was rounded
    # when posted: an incident keeps the scope of its first debit. For an
    # incident rounded once, each debit is the difference a change of its
    # lines made, naming the line that caused it (timesheet_id).
    incident_ref = fields.Char(string="Incident", readonly=True, index="btree_not_null")
    rounding_scope = fields.Selection(
        ROUNDING_SCOPE_SELECTION, readonly=True, help="How the usage was rounded."
    )
    # The rounding policy an incident rounded once was charged with
    # ("grace/15/5/1", see tools.rounding.policy_key): an incident keeps the
    # policy of its first debit, as it keeps its scope, so a later change of
    # the retainer's policy never re-prices the incident's earlier lines.
    rounding_policy = fields.Char(readonly=True)
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
        help="For expiries: the credit block whose unused units expire. For "
        "a rolled-over credit: the block its units come from.",
    )
    is_block = fields.Boolean(
        readonly=True,
        index=True,
        help="A block of units that pays for work: a credit, or a positive "
        "adjustment (a block without expiry).",
    )
    effective_kind = fields.Selection(
        selection=lambda self: self._fields["kind"].selection,
        readonly=True,
        index=True,
        help="The kind of the entry, or for a reversal the kind of the entry "
        "it reverses: what totals, filters and statements count it as.",
    )
    topup_origin = fields.Selection(
        TOPUP_ORIGIN_SELECTION,
        string="Top-up origin",
        readonly=True,
        index="btree_not_null",
        help="Where a top-up came from (credits and their reversals): the "
        "origin of its sales order, or a manual credit, a rollover or an "
        "overdraft invoice.",
    )
    # Figures of a credit block and the blocks that pay for a debit, from
    # the allocation replayed over the ledger (exact at any time, never
    # stored: see tools/allocation.py).
    consumed_units = fields.Integer(
        compute="_compute_block_figures", help="Units of this block used by work."
    )
    expired_units = fields.Integer(
        compute="_compute_block_figures", help="Units of this block that expired."
    )
    remaining_units = fields.Integer(
        compute="_compute_block_figures",
        help="Units of this block still usable: units - consumed - expired.",
    )
    # A block credited after work it could have paid for (see
    # tools/allocation.py, Allocation.stranded): the screens that promise
    # "work uses the blocks that expire first" say why it did not.
    stranded_note = fields.Char(
        string="Not paid by this block",
        compute="_compute_block_figures",
        help="Work posted before this block that it could not pay for: a "
        "block never pays for work already paid by another block, even when "
        "it expires first or is dated earlier.",
    )
    paid_by_block_ids = fields.Many2many(
        "retainer.ledger.entry",
        relation="retainer_ledger_entry_paid_by_rel",
        column1="entry_id",
        column2="block_id",
        compute="_compute_block_figures",
        string="Paid from blocks",
        help="For usage: the credit blocks that pay for it.",
    )
    # How an accountant reads a ledger: signed time next to the signed
    # units, and the balance after each entry (never stored: computed over
    # the retainer's ledger in one query).
    signed_hours = fields.Float(
        string="Time",
        compute="_compute_signed_hours",
        help="Time the entry's units stand for, with their sign.",
    )
    balance_after = fields.Integer(
        string="Balance",
        compute="_compute_balance_after",
        help="The retainer's balance in units after this entry (entries in "
        "order of date, then of posting).",
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

    def init(self):
        # Which retainers have dated blocks: read by every posting (see
        # retainer.contract._lock_for_posting), a lookup whatever the size
        # of the ledger.
        create_index(
            self.env.cr,
            "retainer_ledger_entry_dated_block_index",
            self._table,
            ["contract_id"],
            where="kind = 'credit' AND expiry_date IS NOT NULL",
        )
        # The entries of a retainer after its checkpoint: a range, whatever
        # the size of the ledger (see _retainer_checkpoint_rows).
        create_index(
            self.env.cr,
            "retainer_ledger_entry_contract_id_id_index",
            self._table,
            ["contract_id", "id"],
        )
        # The blocks and expiries of a retainer, without its work: what the
        # revenue recognition reads beside the replay, whatever the size of
        # the ledger (see retainer.revenue.line._retainer_pools_earned).
        create_index(
            self.env.cr,
            "retainer_ledger_entry_block_expiry_index",
            self._table,
            ["contract_id", "id"],
            where="is_block OR effective_kind = 'expiry'",
        )

    # === COMPUTE METHODS === #

    @api.depends("contract_id", "kind", "units")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for entry in self:
            entry.display_name = (
                f"{entry.contract_id.name} {kinds.get(entry.kind, '')} {entry.units:+d}"
            )

    @api.depends("units", "unit_minutes")
    def _compute_hours(self):
        for entry in self:
            entry.hours = units_to_hours(abs(entry.units), entry.unit_minutes or 15)

    @api.depends("units", "unit_minutes")
    def _compute_signed_hours(self):
        for entry in self:
            entry.signed_hours = units_to_hours(entry.units, entry.unit_minutes or 15)

    @api.depends("contract_id", "units", "date")
    def _compute_balance_after(self):
        saved = self.filtered(lambda entry: entry._origin.id)
        (self - saved).balance_after = 0
        if not saved:
            return
        self.flush_model(["contract_id", "units", "date"])
        # Every entry of the retainers shown counts, including those the
        # user's rules hide: the balance is the retainer's, which the user
        # already reads on the retainer itself.
        rows = self.env.execute_query(
            SQL(
                "SELECT id, SUM(units) OVER (PARTITION BY contract_id "
                "ORDER BY date, id) FROM retainer_ledger_entry "
                "WHERE contract_id = ANY(%s)",
                list(set(saved.contract_id.ids)),
            )
        )
        balances = dict(rows)
        for entry in saved:
            entry.balance_after = balances.get(entry._origin.id, 0)

    def _compute_block_figures(self):
        # What paid for work is known from the checkpoint before it: the
        # replay starts before the oldest work shown, not at the first entry.
        paid_by_from = {}
        for entry in self._origin:
            if entry.id and entry.units < 0 and entry.kind in ("debit", "adjustment"):
                contract_id = entry.contract_id.id
                paid_by_from[contract_id] = min(
                    paid_by_from.get(contract_id, NO_LIMIT), entry.id
                )
        replays = self._retainer_replay(self.contract_id.ids, paid_by_from=paid_by_from)
        for entry in self:
            replay = replays.get(entry.contract_id.id)
            entry_id = entry._origin.id
            entry.stranded_note = False
            if not replay or not entry.is_block or entry_id not in replay.blocks:
                entry.consumed_units = entry.expired_units = entry.remaining_units = 0
            else:
                consumed = replay.allocation.consumed.get(entry_id, 0)
                expired = replay.expired.get(entry_id, 0)
                entry.consumed_units = consumed
                entry.expired_units = expired
                entry.remaining_units = max(entry.units - consumed - expired, 0)
                stranded = replay.allocation.stranded.get(entry_id)
                if stranded:
                    entry.stranded_note = entry._stranded_note(*stranded)
            paid_by = replay.allocation.paid_by.get(entry_id) if replay else None
            entry.paid_by_block_ids = self.browse(
                [block_id for block_id, _units in paid_by or ()]
            )

    def _stranded_note(self, later, unpaid):
        """What the block could not pay for, in words (see
        ``stranded_note``)."""
        self.ensure_one()
        contract = self.contract_id
        notes = (
            later
            and self.env._(
                "Credited after work it could have paid: %(units)s of earlier "
                "work stay paid by blocks that expire later.",
                units=contract._format_units(later),
            ),
            unpaid
            and self.env._(
                "Credited after work it could not pay for: %(units)s of "
                "unpaid earlier work are dated after its expiry.",
                units=contract._format_units(unpaid),
            ),
        )
        return " ".join(note for note in notes if note)

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
        entries = super().create(self._prepare_entry_vals(vals_list))
        self._retainer_note_own_rows(
            entries.ids, [vals["contract_id"] for vals in vals_list], vals_list
        )
        return entries

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
        it reverses, its date and author, and a description when it has
        none (see :meth:`_retainer_fill_names`)."""
        self._retainer_fill_names(vals_list)
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
        origin_by_entry = {entry.id: entry.topup_origin for entry in reversed_entries}
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
            vals["effective_kind"] = vals.get("reversed_kind") or vals["kind"]
            if vals.get("reversed_entry_id"):
                vals["topup_origin"] = origin_by_entry[vals["reversed_entry_id"]]
            elif vals["kind"] == "credit":
                # Credits of orders, rollovers and overdrafts name theirs.
                vals.setdefault("topup_origin", "manual")
            vals["is_block"] = vals["kind"] == "credit" or (
                vals["kind"] == "adjustment" and vals.get("units", 0) > 0
            )
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

        template = _insert_template(
            tuple(names), tuple(field.column_type[1] for field in fields_)
        )
        ids = []
        for batch in split_every(10000, vals_list):
            self.env.cr.execute(
                SQL(template, *(column(field, batch) for field in fields_))
            )
            ids.extend(row[0] for row in self.env.cr.fetchall())
        self._retainer_note_own_rows(
            ids, [vals["contract_id"] for vals in vals_list], vals_list
        )
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
        # The block figures are replayed from the whole ledger.
        self.invalidate_model(
            [
                "consumed_units",
                "expired_units",
                "remaining_units",
                "stranded_note",
                "paid_by_block_ids",
            ]
        )
        return entries

    # === POSTING: the one path every balance change takes === #

    @api.model
    def _post(
        self,
        vals_list=(),
        reverse=None,
        reason=None,
        reversal_date=None,
        apply_overdraft_policy=True,
        locked=None,
    ):
        """Post entries on the ledger and return them: the gate every
        balance change goes through, so that every rule is applied once.

        For all the retainers touched, in one step:

        1. check the whole posting (:meth:`_retainer_check_posting`, the
           usage lock date included) and refuse it at once, every problem
           in one message, before anything is locked or written;
        2. lock the retainers (``retainer.contract._lock_for_posting``);
        3. insert the reversals of ``reverse`` and the entries of
           ``vals_list`` (:meth:`_insert_entries`);
        4. after posting (``retainer.contract._retainer_after_posting``):
           correct the expiries of blocks the new entries change (time
           logged late on a block that already expired), then apply each
           retainer's overdraft policy and balance rules.

        The expiry rule posts its own entries through
        :meth:`_post_expiry_corrections`.

        :param list vals_list: values of new credits, debits, adjustments
            and expiries (never reversals: use ``reverse``).
        :param reverse: entries to cancel, each by one reversal.
        :param reason: why ``reverse`` is reversed: one text for all, or a
            mapping ``{entry id: text}`` when they are reversed for
            different reasons (one posting for the whole change).
        :param reversal_date: date of the reversals instead of the usual one
            (see :meth:`_prepare_reversal_vals`).
        :param bool apply_overdraft_policy: False where the policy must not
            refuse the posting (a credit note takes its units back whatever
            the balance); overdraft notifications still follow the balance.
        :param dict locked: retainers locked already by this step of the
            transaction, with whether they have dated blocks (what
            ``retainer.contract._lock_for_usage`` returns): step 2 is skipped
            when they are all the posting's and it need not bump the lock.
        :raises UserError: a manual credit or adjustment without a reason, a
            block that expires before its date, an entry dated on or before
            its retainer's usage lock date, a reversal of a reversal or of a
            reversed entry, or a ``block`` retainer that the posting would
            overdraw.
        """
        vals_list = list(vals_list)
        reverse = reverse or self.browse()
        self._check_posted_kinds(vals_list)
        all_vals = reverse._prepare_reversal_vals(reason, reversal_date) + vals_list
        if not all_vals:
            return self.browse()
        self._retainer_check_posting(all_vals, reverse)
        self._retainer_date_after_lock(vals_list)
        contracts = self.env["retainer.contract"].browse(
            sorted({vals["contract_id"] for vals in all_vals})
        )
        plan = contracts._retainer_posting_plan(all_vals)
        # Reversing what others may reverse or correct too (credits,
        # expiries) must not act on an older view of the ledger.
        # The ledger's rows are flushed: the lock also reads which
        # retainers have dated blocks.
        bump = bool(reverse.filtered(lambda entry: entry.kind != "debit"))
        if bump or locked is None or not set(contracts.ids) <= locked.keys():
            self.flush_model()
            dated = contracts._lock_for_posting(bump=bump)
        else:
            dated = {
                contract_id for contract_id in contracts.ids if locked[contract_id]
            }
        plan["dated"] |= dated
        # Retainers this transaction posts on for the first time: all their
        # own rows will be this posting's (see _retainer_current_balances).
        plan["fresh"] = set(contracts.ids) - set(self._retainer_own_rows())
        entries = self._insert_entries(all_vals)
        contracts._retainer_after_posting(
            entries, plan, apply_overdraft_policy=apply_overdraft_policy
        )
        # Blocks changed (anything but time logged and its corrections):
        # the stored urgency follows at once. Read from the values posted,
        # so that a timesheet's posting costs no query for it.
        contracts.browse(
            {
                vals["contract_id"]
                for vals in all_vals
                if vals["effective_kind"] != "debit"
            }
        )._retainer_refresh_urgency()
        return entries

    @api.model
    def _post_expiry_corrections(self, vals_list=(), reverse=None, reason=None):
        """Post the expiry rule's own entries and return them: expiries,
        rollovers and their reversals, computed by
        ``retainer.contract._retainer_reconcile_expiries`` (the expiry job,
        or the correction step of a posting's after-posting).

        Unlike :meth:`_post`, it checks nothing and runs no after-posting:
        the rule computes these entries from the ledger under the lock, so
        they need no reason and are dated after the usage lock date by the
        rule itself (``_retainer_expiry_posting_date``; reversals by
        :meth:`_prepare_reversal_vals`); they are final (an expiry takes
        only unused units, so neither the overdraft policy nor another
        expiry correction applies); and the caller applies the balance
        rules once for all its rounds. They are locked as entries others
        act on (see ``retainer.contract._lock_for_posting``).

        :param reason: as for :meth:`_post`.
        """
        reverse = reverse or self.browse()
        all_vals = reverse._prepare_reversal_vals(reason) + list(vals_list)
        if not all_vals:
            return self.browse()
        self.env["retainer.contract"].browse(
            {vals["contract_id"] for vals in all_vals}
        )._lock_for_posting(bump=True)
        return self._insert_entries(all_vals)

    @api.model
    def _check_posted_kinds(self, vals_list):
        """:raises ValidationError: a reversal in ``vals_list`` (a
        programming error: reversals are built from the entries they
        reverse, see :meth:`_reverse`)."""
        if any(vals.get("kind") == "reversal" for vals in vals_list):
            raise ValidationError(self.env._("Reversals are posted by _reverse()."))

    @api.model
    def _retainer_usage_locks(self, contract_ids):
        """``{contract id: usage lock date}`` of the contracts that have one."""
        # sudo: the lock date is a rule of every posting, whoever posts (a
        # timesheet user, or a customer's payment confirming a top-up);
        # only the date is read.
        contracts = self.env["retainer.contract"].sudo().browse(contract_ids)
        return {
            contract.id: contract.usage_lock_date
            for contract in contracts
            if contract.usage_lock_date
        }

    @api.model
    def _retainer_follows_document(self, vals):
        """Whether the entry of ``vals`` is a credit of an order line or an
        invoice: it follows a document the retainer cannot refuse, so a
        date of it in a locked period moves after the lock instead of
        refusing the posting (see :meth:`_retainer_date_after_lock`)."""
        return vals.get("kind") == "credit" and bool(
            vals.get("sale_line_id") or vals.get("invoice_id")
        )

    @api.model
    def _retainer_date_after_lock(self, vals_list):
        """Date on the first day after their retainer's usage lock date (in
        place) the credits of ``vals_list`` that come from an order line or
        an invoice and are dated on or before it (a partial credit note
        credits the rest of a block again on the block's date).

        They follow a document, so they go to the first open day, as
        ``account.move`` dates an invoice after a lock date; the period
        already reported stays as it was. Entries a person dates are
        refused instead (:meth:`_retainer_lock_problems`).
        """
        documented = [
            vals for vals in vals_list if self._retainer_follows_document(vals)
        ]
        if not documented:
            return
        locks = self._retainer_usage_locks({vals["contract_id"] for vals in documented})
        for vals in documented:
            lock = locks.get(vals["contract_id"])
            day = fields.Date.to_date(vals.get("date"))
            if lock and day and day <= lock:
                vals["date"] = lock + timedelta(days=1)

    @api.model
    def _retainer_check_posting(self, all_vals, reverse):
        """Check a whole posting before anything is locked or written.

        :param list all_vals: values of every entry about to be posted, the
            reversals of ``reverse`` included.
        :param reverse: the entries the posting reverses.
        :raises UserError: one error listing every problem found.
        """
        problems = reverse._retainer_reversal_problems()
        source_fields = self._retainer_source_fields()
        for vals in all_vals:
            if (
                vals.get("kind") in ("credit", "adjustment")
                and not any(vals.get(fname) for fname in source_fields)
                and not vals.get("block_entry_id")
                and not (vals.get("reason") or "").strip()
            ):
                problems.append(
                    self.env._("A manual credit or adjustment needs a reason.")
                )
            if vals.get("kind") == "credit" and vals.get("expiry_date"):
                problems.append(self._retainer_block_dates_problem(vals))
        problems += self._retainer_lock_problems(all_vals)
        problems = [problem for problem in dict.fromkeys(problems) if problem]
        if problems:
            raise UserError("\n".join(problems))

    def _retainer_reversal_problems(self):
        """Why the entries of ``self`` cannot be reversed (a list of
        messages, empty when they can; a unique constraint also refuses a
        second reversal posted at the same time)."""
        problems = []
        if any(entry.kind == "reversal" for entry in self):
            problems.append(self.env._("A reversal cannot itself be reversed."))
        problems += [
            self.env._("Entry %(entry)s is already reversed.", entry=entry.display_name)
            for entry in self.filtered("reversal_entry_ids")
        ]
        return problems

    @api.model
    def _retainer_lock_problems(self, all_vals):
        """One message per entry of ``all_vals`` dated on or before its
        retainer's usage lock date: the period is reported (its statement
        sent), nothing is posted in it any more, whatever the kind.

        Entries that follow a document or time are dated after the lock
        instead: reversals on their usual date (already, see
        :meth:`_prepare_reversal_vals`), credits of an order line or an
        invoice (after this check, :meth:`_retainer_date_after_lock`) and
        the expiry rule's entries (:meth:`_post_expiry_corrections`). What
        remains was dated by a person (a manual credit or adjustment, a
        timesheet, a reversal given a date), who chooses another date.
        """
        locks = self._retainer_usage_locks({vals["contract_id"] for vals in all_vals})
        if not locks:
            return []
        today = fields.Date.context_today(self)
        problems = []
        for vals in all_vals:
            lock = locks.get(vals["contract_id"])
            day = fields.Date.to_date(vals.get("date")) or today
            if lock and day <= lock and not self._retainer_follows_document(vals):
                contract = self.env["retainer.contract"].browse(vals["contract_id"])
                problems.append(
                    self.env._(
                        "Retainer %(retainer)s is locked up to %(lock)s: an entry "
                        "dated %(date)s cannot be posted on it. Date it after "
                        "%(lock)s.",
                        # sudo: the reference only, for the message.
                        retainer=contract.sudo().name,
                        lock=lock,
                        date=day,
                    )
                )
        return problems

    @api.model
    def _retainer_fill_names(self, vals_list):
        """Give each of ``vals_list`` without a description (no ``name``, or
        the ``/`` of a timesheet logged without one) a description (in
        place): what a person reads first in the ledger.

        A manual credit or adjustment takes the first line of its reason (a
        manager writes it for the customer, who sees it on the portal); usage
        names its project; a reversal repeats the entry it reverses; anything
        else its kind. Records are read in one batch.
        """
        todo = [vals for vals in vals_list if not _has_description(vals.get("name"))]
        if not todo:
            return
        projects = self.env["project.project"].browse(
            {vals["project_id"] for vals in todo if vals.get("project_id")}
        )
        project_names = {project.id: project.display_name for project in projects}
        reversed_entries = self.browse(
            {
                vals["reversed_entry_id"]
                for vals in todo
                if vals.get("reversed_entry_id")
            }
        )
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for vals in todo:
            kind = vals.get("kind")
            # The reasons of debits and reversals are internal notes.
            reason = ""
            if kind in ("credit", "adjustment", "expiry"):
                reason = (vals.get("reason") or "").strip().split("\n", 1)[0].strip()
            if vals.get("reversed_entry_id"):
                reversed_entry = reversed_entries.browse(vals["reversed_entry_id"])
                name = self.env._(
                    "Reversal of %(entry)s",
                    entry=reversed_entry.name
                    if _has_description(reversed_entry.name)
                    else reversed_entry.display_name,
                )
            elif kind == "debit":  # usage comes from timesheets (maybe deleted)
                project = project_names.get(vals.get("project_id"))
                name = (
                    self.env._("Time logged on %(project)s", project=project)
                    if project
                    else self.env._("Time logged")
                )
            elif reason:
                name = reason
            else:
                name = kinds.get(kind) or self.env._("Ledger entry")
            vals["name"] = name

    @api.model
    def _check_block_dates(self, vals):
        """:raises UserError: a credit whose expiry date is before its date."""
        problem = self._retainer_block_dates_problem(vals)
        if problem:
            raise UserError(problem)

    @api.model
    def _retainer_block_dates_problem(self, vals):
        """Why a credit of ``vals`` with an expiry date cannot be posted:
        it expires before its date (else None)."""
        expiry = fields.Date.to_date(vals["expiry_date"])
        date = fields.Date.to_date(vals.get("date")) or fields.Date.context_today(self)
        if expiry < date:
            return self.env._(
                "A block cannot expire (%(expiry)s) before its date (%(date)s).",
                expiry=expiry,
                date=date,
            )
        return None

    def _prepare_reversal_vals(self, reason=None, date=None):
        """Values of one reversal per entry of ``self``: the opposite units,
        pointing at the entry.

        Their usual date: timesheet debits are reversed on their own date,
        so a period's usage stays right whatever day it is corrected; other
        entries today. Never on or before the retainer's usage lock date: a
        usual date in a reported period becomes the day after the lock date
        (a ``date`` given is kept, and refused there by :meth:`_post`).

        :param reason: one text for all, or ``{entry id: text}``.
        """
        if not self:
            return []
        today = fields.Date.context_today(self)
        locks = {} if date else self._retainer_usage_locks(self.contract_id.ids)
        reason_of = reason.get if isinstance(reason, Mapping) else lambda _id: reason
        all_vals = []
        for entry in self:
            usual = entry.date if entry.timesheet_id else today
            lock = locks.get(entry.contract_id.id)
            if lock and usual <= lock:
                usual = lock + timedelta(days=1)
            all_vals.append(
                {
                    "contract_id": entry.contract_id.id,
                    "kind": "reversal",
                    "units": -entry.units,
                    "unit_minutes": entry.unit_minutes,
                    "reversed_entry_id": entry.id,
                    "date": date or usual,
                    "reason": reason_of(entry.id),
                    "name": entry.name,
                    "timesheet_id": entry.timesheet_id.id,
                    "sale_line_id": entry.sale_line_id.id,
                    "invoice_id": entry.invoice_id.id,
                    "block_entry_id": entry.block_entry_id.id,
                    "employee_id": entry.employee_id.id,
                    "project_id": entry.project_id.id,
                    "contact_type": entry.contact_type,
                    "entered_hours": -entry.entered_hours,
                    "incident_ref": entry.incident_ref,
                    "rounding_scope": entry.rounding_scope,
                    "rounding_policy": entry.rounding_policy,
                }
            )
        return all_vals

    def _reverse(self, reason=None, date=None, apply_overdraft_policy=True):
        """Post one reversal per entry of ``self`` through :meth:`_post` and
        return the reversals.

        :param reason: one text for all, or ``{entry id: text}``.
        :param date: their date instead of the usual (see
            :meth:`_prepare_reversal_vals`).
        """
        return self._post(
            reverse=self,
            reason=reason,
            reversal_date=date,
            apply_overdraft_policy=apply_overdraft_policy,
        )

    @api.model
    def _reconcile_plan(self, live, target, prepare_vals, stale=None, first=None):
        """Plan how to bring the live entries of one source to ``target``.

        The one answer to "this source should now count for N units" used by
        the timesheet, order line, overdraft and expiry syncs: entries that
        are ``stale`` are always reversed; then, while the rest counts for
        more than ``target``, entries are reversed (those for which
        ``first`` is true first, then the newest); a shortfall becomes one
        new entry.

        :param live: the source's live entries, all of the sign of
            ``target`` (credits positive, debits and expiries negative).
        :param int target: signed units the source should count for.
        :param prepare_vals: ``f(units) -> vals`` of a new entry.
        :returns: ``(entries to reverse, list of vals to post)``
        """
        to_reverse = live.filtered(stale) if stale else self.browse()
        # Keep the caller's prefetch: the live entries of many sources are
        # then read in one query, not one source at a time.
        kept = (live - to_reverse).with_prefetch(live._prefetch_ids)
        # Compare magnitudes in the sign of the source's entries.
        sign = (
            -1 if target < 0 or any(units < 0 for units in kept.mapped("units")) else 1
        )
        goal = target * sign
        if goal < 0:  # the source changed sides: none of its entries stays
            to_reverse |= kept
            kept = self.browse()
        current = sum(kept.mapped("units")) * sign
        for entry in kept.sorted(lambda e: (not (first and first(e)), -e.id)):
            if current <= max(goal, 0):
                break
            to_reverse |= entry
            current -= entry.units * sign
        missing = target - current * sign
        return to_reverse, [prepare_vals(missing)] if missing else []

    # === READING THE LEDGER AS IT IS NOW === #

    @api.model
    def _retainer_read_committed(self, query):
        """Run ``query`` on a connection of its own in READ COMMITTED and
        return its rows: what other transactions have committed, even
        after this one started (in test mode, the test's transaction)."""
        registry = self.env.registry
        if not registry.ready:
            # Installing or upgrading modules (data files, demo data): the
            # schema may be changing in this transaction, another connection
            # would wait for it; and nobody else posts meanwhile.
            self.env.cr.execute(query)
            return self.env.cr.fetchall()
        with registry.cursor() as cr:
            if not registry.in_test_mode():
                # One round trip; never wait on this transaction's own locks
                # for long.
                query = SQL(
                    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; "
                    "SET LOCAL lock_timeout = '10s'; %s",
                    query,
                )
            cr.execute(query)
            return cr.fetchall()

    @api.model
    def _retainer_committed_reads_own_rows(self):
        """Whether :meth:`_retainer_read_committed` runs on this
        transaction (installing modules, or in test mode): it then also
        sees this transaction's own rows, which need no second read."""
        registry = self.env.registry
        return not registry.ready or registry.in_test_mode()

    @api.model
    def _retainer_own_rows(self):
        """``{contract id: {entry id: units}}``: the ledger rows this
        transaction inserted (through :meth:`_insert_entries` or create()),
        kept on the cursor until the transaction ends (commit or rollback).

        A savepoint rolled back may have undone some of them: they tell
        which retainers this transaction posted on, and their units are
        trusted only for the rows of the posting still running (see
        :meth:`_retainer_current_balances`)."""
        cr = self.env.cr
        holder = cr.cache.setdefault(OWN_ROWS_KEY, {"rows": {}, "armed": False})
        if not holder["armed"]:
            # Forgotten when the transaction ends (the cursor's cache is
            # not: it may be gone when a closing cursor rolls back).
            def forget():
                holder["rows"] = {}
                holder["armed"] = False

            cr.postcommit.add(forget)
            cr.postrollback.add(forget)
            holder["armed"] = True
        return holder["rows"]

    @api.model
    def _retainer_note_own_rows(self, ids, contract_ids, vals_list):
        """Remember the rows ``ids`` just inserted (of ``contract_ids`` and
        ``vals_list``, in the same order) as this transaction's own."""
        own = self._retainer_own_rows()
        for entry_id, contract_id, vals in zip(
            ids, contract_ids, vals_list, strict=True
        ):
            own.setdefault(contract_id, {})[entry_id] = vals.get("units", 0)

    @api.model
    def _retainer_current_balances(self, contract_ids, fresh=()):
        """``{contract_id: units}`` now, for contracts locked by this
        transaction (see :meth:`_retainer_current_replay`), in two queries.

        :param fresh: ids of contracts whose own rows in this transaction
            are all from the posting running now (it found none when it
            took its lock, see ``_post``): no savepoint can have undone
            them, so their units are known without the second query, which
            a save of one timesheet then does not run.
        """
        if not contract_ids:
            return {}
        self.flush_model()
        committed = self._retainer_read_committed(
            SQL(
                "SELECT contract_id, sum(units), max(id) FROM retainer_ledger_entry "
                "WHERE contract_id IN %s GROUP BY contract_id",
                tuple(contract_ids),
            )
        )
        balances = {cid: units for cid, units, _newest in committed}
        if self._retainer_committed_reads_own_rows():
            return balances
        own = self._retainer_own_rows()
        for cid in set(fresh) & set(contract_ids):
            balances[cid] = balances.get(cid, 0) + sum(own.get(cid, {}).values())
        contract_ids = [cid for cid in contract_ids if cid not in fresh]
        if not contract_ids:
            return balances
        newest = {cid: last for cid, _units, last in committed}
        self.env.cr.execute(
            SQL(
                "SELECT e.contract_id, sum(e.units) FROM retainer_ledger_entry e "
                "JOIN unnest(%s::int[], %s::int[]) AS t(contract_id, newest) "
                "ON e.contract_id = t.contract_id AND e.id > t.newest "
                "GROUP BY e.contract_id",
                list(contract_ids),
                [newest.get(cid, 0) for cid in contract_ids],
            )
        )
        for cid, units in self.env.cr.fetchall():
            balances[cid] = balances.get(cid, 0) + units
        return balances

    @api.model
    def _retainer_current_replay(self, contract_ids, exclude_ids=()):
        """Like :meth:`_retainer_replay`, on the ledgers as they are now
        (contracts locked by this transaction): their rows are those
        committed (read on a connection of their own, whatever this
        transaction's snapshot is) plus this transaction's own, which all
        come after the newest committed row, since nobody else can post on
        them until this transaction ends.

        A replay that read ``CHECKPOINT_EVERY`` entries or more, or what
        paid for work paid in full before its checkpoint, writes a
        checkpoint after them (not when ``exclude_ids`` leaves entries out).
        """
        return self._retainer_replays(contract_ids, exclude_ids, current=True)

    @api.model
    def _retainer_replay(self, contract_ids, exclude_ids=(), paid_by_from=None):
        """Replay the ledgers of ``contract_ids`` and return, per contract, a
        :class:`LedgerReplay` (allocation of usage to blocks, expired units
        per block and the expiries and rollovers already posted for each).

        Each replay starts from the newest checkpoint of its retainer (see
        ``retainer.ledger.checkpoint``), so it reads the entries posted
        since, not the whole ledger: one query for all the contracts, more
        only when entries reach back before a checkpoint. ``exclude_ids``:
        the newest entries, to leave out to see the ledger as it was before
        they were posted. ``paid_by_from``: ``{contract id: entry id}``, the
        oldest work whose paying blocks are read (``allocation.paid_by`` is
        known for work after the checkpoint only).
        """
        return self._retainer_replays(contract_ids, exclude_ids, paid_by_from)

    @api.model
    def _retainer_replays(
        self, contract_ids, exclude_ids=(), paid_by_from=None, current=False
    ):
        """See :meth:`_retainer_replay` and :meth:`_retainer_current_replay`."""
        if not contract_ids:
            return {}
        self.flush_model()
        excluded = set(exclude_ids)
        # A checkpoint must be before what is left out and what is shown.
        limits = dict.fromkeys(contract_ids, min(excluded, default=NO_LIMIT))
        for contract_id, entry_id in (paid_by_from or {}).items():
            if contract_id in limits:
                limits[contract_id] = min(limits[contract_id], entry_id)
        replays = {}
        todo = sorted(set(contract_ids))
        for attempt in range(MAX_CHECKPOINT_TRIES + 1):
            if attempt == MAX_CHECKPOINT_TRIES:  # from the first entry
                limits = dict.fromkeys(todo, 1)
            checkpoints, rows = self._retainer_checkpoint_rows(todo, limits, current)
            rows_by_contract = defaultdict(list)
            for row in rows:
                if row[0] not in excluded:
                    rows_by_contract[row[1]].append(row)
            stale = {}
            for contract_id in todo:
                contract_rows = rows_by_contract.get(contract_id, [])
                checkpoint = checkpoints.get(contract_id)
                if not contract_rows and not checkpoint:
                    continue  # no ledger
                try:
                    replays[contract_id] = LedgerReplay.from_rows(
                        contract_rows, checkpoint
                    )
                except StaleCheckpoint as error:
                    stale[contract_id] = error
            # Work paid in full before its checkpoint and released since: what
            # paid for it is read from the records of the checkpoints, not
            # replayed from before it.
            settled = self._retainer_settled(
                {
                    cid: (checkpoints[cid]["entry_id"], error.work)
                    for cid, error in stale.items()
                    if error.work
                }
            )
            for contract_id, found in settled.items():
                replays[contract_id] = LedgerReplay.from_rows(
                    rows_by_contract.get(contract_id, []),
                    checkpoints[contract_id],
                    found,
                )
                del stale[contract_id]
            for contract_id, error in stale.items():
                limits[contract_id] = min(limits[contract_id], error.before)
            # A replay that read what paid for old work writes a checkpoint
            # after it too: the next postings need not read it again.
            for contract_id in todo:
                contract_rows = rows_by_contract.get(contract_id, [])
                if (
                    current
                    and not excluded
                    and contract_id in replays
                    and (
                        len(contract_rows) >= CHECKPOINT_EVERY or contract_id in settled
                    )
                ):
                    self._retainer_write_checkpoint(contract_id, replays[contract_id])
            todo = list(stale)
            if not todo:
                break
        return replays

    @api.model
    def _retainer_checkpoint_rows(self, contract_ids, limits, current=False):
        """``({contract id: checkpoint state}, rows)``: per contract, its
        newest checkpoint before the entry of ``limits`` and its ledger rows
        after it (columns ``CHECKPOINT_REPLAY_COLUMNS``, in id order), in one
        query; with ``current``, the ledger as it is now (see
        :meth:`_retainer_current_replay`), in two."""
        query = self._retainer_checkpoint_rows_query(contract_ids, limits)
        if current:
            fetched = self._retainer_read_committed(query)
        else:
            self.env.cr.execute(query)
            fetched = self.env.cr.fetchall()
        checkpoints, rows = _split_checkpoints(fetched)
        if current and not self._retainer_committed_reads_own_rows():
            # This transaction's own rows come after the newest committed,
            # and so do the checkpoints it wrote (the newest is taken).
            newest = {row[1]: row[0] for row in rows}
            columns, nulls = _checkpoint_row_terms()
            self.env.cr.execute(
                SQL(
                    "SELECT %(columns)s, NULL::jsonb FROM retainer_ledger_entry e "
                    "JOIN unnest(%(ids)s::int[], %(newest)s::int[]) "
                    "AS t(contract_id, newest) "
                    "ON e.contract_id = t.contract_id AND e.id > t.newest "
                    "UNION ALL SELECT c.entry_id, c.contract_id, %(nulls)s, c.state "
                    "FROM retainer_ledger_checkpoint c "
                    "JOIN unnest(%(ids)s::int[], %(newest)s::int[], %(limits)s::int[]) "
                    "AS t(contract_id, newest, lim) "
                    "ON c.contract_id = t.contract_id AND c.entry_id > t.newest "
                    "AND c.entry_id < t.lim ORDER BY 1",
                    columns=columns,
                    nulls=nulls,
                    ids=list(contract_ids),
                    newest=[
                        max(
                            newest.get(cid, 0),
                            checkpoints.get(cid, {}).get("entry_id", 0),
                        )
                        for cid in contract_ids
                    ],
                    limits=[limits[cid] for cid in contract_ids],
                )
            )
            own_checkpoints, own_rows = _split_checkpoints(self.env.cr.fetchall())
            checkpoints.update(own_checkpoints)
            rows = [
                row
                for row in sorted(rows + own_rows)
                if row[0] > checkpoints.get(row[1], {}).get("entry_id", 0)
            ]
        return checkpoints, rows

    @api.model
    def _retainer_checkpoint_rows_query(self, contract_ids, limits):
        """The query of :meth:`_retainer_checkpoint_rows` (on the committed
        ledger when it reads the current one)."""
        columns, nulls = _checkpoint_row_terms()
        # Both reads are ranges of an index, whatever the size of the
        # ledger: the newest checkpoint (contract_id, entry_id), then the
        # entries after it, (contract_id, id) from (contract, checkpoint)
        # to (contract, NO_LIMIT). Written as row comparisons, which only
        # that index serves: with ``contract_id = ... AND id > ...`` the
        # planner, which guesses a third of the ledger for a bound known at
        # run time, read the whole ledger and filtered it.
        return SQL(
            "WITH cp AS (SELECT t.contract_id, COALESCE(c.entry_id, 0) AS since, "
            "c.state FROM unnest(%(ids)s::int[], %(limits)s::int[]) "
            "AS t(contract_id, lim) LEFT JOIN LATERAL (SELECT c.entry_id, c.state "
            "FROM retainer_ledger_checkpoint c "
            "WHERE c.contract_id = t.contract_id AND c.entry_id < t.lim "
            "ORDER BY c.entry_id DESC LIMIT 1) c ON TRUE) "
            "SELECT %(columns)s, NULL::jsonb FROM cp "
            "JOIN LATERAL (SELECT * FROM retainer_ledger_entry l "
            "WHERE (l.contract_id, l.id) > (cp.contract_id, cp.since) "
            "AND (l.contract_id, l.id) <= (cp.contract_id, %(no_limit)s) "
            "ORDER BY l.id) e ON TRUE "
            "UNION ALL SELECT cp.since, cp.contract_id, %(nulls)s, cp.state "
            "FROM cp WHERE cp.state IS NOT NULL ORDER BY 1",
            ids=list(contract_ids),
            limits=[limits[cid] for cid in contract_ids],
            columns=columns,
            nulls=nulls,
            no_limit=NO_LIMIT,
        )

    @api.model
    def _retainer_settled(self, work_by_contract):
        """What paid for work paid in full before a checkpoint, from the
        ``settled`` records of the checkpoints between the work and it (see
        ``tools.allocation.newest_settled``), in one query.

        :param dict work_by_contract: ``{contract id: (checkpoint entry id,
            usage ids)}``
        :return: ``{contract id: {usage id: [date, paid by]}}`` for the
            contracts whose work is all found
        """
        if not work_by_contract:
            return {}
        contract_ids = list(work_by_contract)
        keys = sorted(
            {
                str(usage_id)
                for _cp, work in work_by_contract.values()
                for usage_id in work
            }
        )
        # A record is in a checkpoint written after the work was posted:
        # only the checkpoints from the oldest work released are read.
        self.env.cr.execute(
            SQL(
                "SELECT c.contract_id, c.settled IS NOT NULL, s.key, s.value "
                "FROM retainer_ledger_checkpoint c "
                "JOIN unnest(%(ids)s::int[], %(lows)s::int[], %(highs)s::int[]) "
                "AS t(contract_id, low, high) ON c.contract_id = t.contract_id "
                "AND c.entry_id >= t.low AND c.entry_id <= t.high "
                "LEFT JOIN LATERAL (SELECT key, value FROM jsonb_each(c.settled) "
                "WHERE key = ANY(%(keys)s)) s ON TRUE "
                "ORDER BY c.contract_id, c.entry_id DESC",
                ids=contract_ids,
                lows=[min(work_by_contract[cid][1]) for cid in contract_ids],
                highs=[work_by_contract[cid][0] for cid in contract_ids],
                keys=keys,
            )
        )
        records = defaultdict(list)
        for contract_id, kept, key, value in self.env.cr.fetchall():
            matches = {int(key): value} if key is not None else {}
            records[contract_id].append((kept, matches))
        result = {}
        for contract_id, (_checkpoint, work) in work_by_contract.items():
            found = newest_settled(records.get(contract_id, ()), work)
            if found is not None:
                result[contract_id] = found
        return result

    @api.model
    def _retainer_write_checkpoints(self, contract_ids):
        """Write a checkpoint every ``CHECKPOINT_EVERY`` entries of the
        ledgers of ``contract_ids`` that have none yet (a ledger posted
        before checkpoints existed; postings add them as they go): one
        replay of each ledger, continued from one checkpoint to the next.
        Entries committed before this transaction's snapshot are final (a
        retainer's postings commit in the order of their ids)."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM retainer_ledger_entry e WHERE e.contract_id IN %s "
                "AND NOT EXISTS (SELECT 1 FROM retainer_ledger_checkpoint c "
                "WHERE c.contract_id = e.contract_id) ORDER BY e.id",
                SQL(", ").join(
                    SQL.identifier("e", name) for name in CHECKPOINT_REPLAY_COLUMNS
                ),
                tuple(contract_ids),
            )
        )
        rows_by_contract = defaultdict(list)
        for row in self.env.cr.fetchall():
            rows_by_contract[row[1]].append(row)
        for contract_id, rows in rows_by_contract.items():
            checkpoint = None
            written = []  # (checkpoint entry id, settled records), newest first
            for end in range(CHECKPOINT_EVERY, len(rows) + 1, CHECKPOINT_EVERY):
                start = checkpoint["entry_id"] if checkpoint else 0
                chunk = [row for row in rows[:end] if row[0] > start]
                try:
                    replay = LedgerReplay.from_rows(chunk, checkpoint)
                except StaleCheckpoint as error:
                    found = error.work and newest_settled(
                        [
                            (True, kept)
                            for entry_id, kept in written
                            if entry_id >= min(error.work)
                        ],
                        error.work,
                    )
                    if found:  # released work: what paid for it is recorded
                        replay = LedgerReplay.from_rows(chunk, checkpoint, found)
                    else:  # reaches back: replay from the start
                        replay = LedgerReplay.from_rows(rows[:end])
                self._retainer_write_checkpoint(contract_id, replay)
                checkpoint = json.loads(json.dumps(replay.checkpoint()))
                written.insert(
                    0,
                    (
                        replay.entry_id,
                        {
                            int(key): value
                            for key, value in json.loads(
                                json.dumps(replay.settled())
                            ).items()
                        },
                    ),
                )

    @api.model
    def _retainer_write_checkpoint(self, contract_id, replay):
        """Store the state of ``replay`` (of the ledger of ``contract_id``
        locked by this transaction) as a checkpoint."""
        self.env.cr.execute(
            SQL(
                "INSERT INTO retainer_ledger_checkpoint "
                "(contract_id, entry_id, state, settled) "
                "VALUES (%s, %s, %s::jsonb, %s::jsonb)",
                contract_id,
                replay.entry_id,
                json.dumps(replay.checkpoint()),
                json.dumps(replay.settled()),
            )
        )

    @api.model
    def _retainer_active_debits(self, timesheets):
        """Return the debits of ``timesheets`` rounded entry by entry that
        are not reversed (one query for the batch). The debits of incidents
        rounded once are the incident's, not their line's: see
        :meth:`_retainer_active_incident_debits`."""
        if not timesheets:
            return self.browse()
        return self.search(
            [
                ("timesheet_id", "in", timesheets.ids),
                ("kind", "=", "debit"),
                ("rounding_scope", "!=", "incident"),
                ("reversal_entry_ids", "=", False),
            ]
        )

    @api.model
    def _retainer_active_incident_debits(self, contract_ids, refs):
        """Return the debits, not reversed, of the incidents ``refs``
        rounded once on ``contract_ids`` (one query for the batch; the
        caller keeps those of its own (contract, incident) pairs)."""
        if not contract_ids or not refs:
            return self.browse()
        # What re-targeting reads, in the same query: a save costs as many
        # queries on an incident with debits as on a new one.
        return self.search_fetch(
            [
                ("contract_id", "in", list(contract_ids)),
                ("incident_ref", "in", list(refs)),
                ("kind", "=", "debit"),
                ("rounding_scope", "=", "incident"),
                ("reversal_entry_ids", "=", False),
            ],
            ["contract_id", "incident_ref", "units", "date", "timesheet_id"]
            + ["entered_hours", "rounding_policy"],
            order="id",
        )

    @api.model
    def _retainer_incident_first_scopes(self, contract_ids, refs):
        """``{(contract id, incident): (scope, policy)}`` of the first debit
        of each incident of ``refs`` on ``contract_ids`` that has one (one
        query): an incident keeps the scope and the rounding policy (its
        ``rounding_policy`` key, empty for an incident rounded entry by entry
        or charged before the policy was named) it was first charged with."""
        if not contract_ids or not refs:
            return {}
        self.flush_model(
            ["contract_id", "incident_ref", "kind", "rounding_scope", "rounding_policy"]
        )
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT ON (contract_id, incident_ref) contract_id, "
                "incident_ref, rounding_scope, rounding_policy "
                "FROM retainer_ledger_entry "
                "WHERE kind = 'debit' AND contract_id = ANY(%s) "
                "AND incident_ref = ANY(%s) ORDER BY contract_id, incident_ref, id",
                list(contract_ids),
                list(refs),
            )
        )
        return {
            (contract_id, ref): (scope or "entry", policy)
            for contract_id, ref, scope, policy in self.env.cr.fetchall()
        }

    def _retainer_block_label(self):
        """Short name of a credit block for people: what it is and when."""
        self.ensure_one()
        return self.env._(
            "%(name)s of %(date)s",
            name=self.name or self.reason or self.env._("Credit"),
            date=format_date(self.env, self.date),
        )

    @api.model
    def _retainer_source_fields(self):
        """Fields naming the document a credit comes from (an order line, an
        invoice...). A credit without one is manual and needs a reason."""
        return ["timesheet_id", "sale_line_id", "invoice_id"]

    @api.model
    def _retainer_totals(self, contract_ids):
        """Return ``{contract_id: {purchased, used, expired, balance, count}}``
        in units, from one grouped query whatever the number of contracts."""
        totals = defaultdict(lambda: defaultdict(int))
        if not contract_ids:
            return totals
        groups = self._read_group(
            [("contract_id", "in", list(contract_ids))],
            ["contract_id", "effective_kind"],
            ["units:sum", "__count"],
        )
        for contract, effective_kind, units, count in groups:
            figures = totals[contract.id]
            figures["balance"] += units
            figures["count"] += count
            if effective_kind == "expiry":
                figures["expired"] -= units
            elif effective_kind == "credit":
                figures["purchased"] += units
            elif effective_kind == "debit":
                figures["used"] -= units
        return totals

    # === CUSTOMER-FACING TEXT (statement, portal) === #

    def _retainer_incident_groups(self, date_from=None, date_to=None, quiet=()):
        """Group the entries of ``self`` per incident, for whoever reads the
        usage (the portal, the statement): a list of dicts, in the order of
        each incident's first entry in ``self``, then the incidents of
        ``quiet`` (``(contract id, incident)`` pairs of incidents rounded
        once that have lines but no entry in ``self``: their lines of the
        period cost no unit, the incident's earlier rounding paid them;
        each with no entries and 0 units), with

        * ``ref`` (the incident, ``"project.task,7"``; ``False`` for an entry
          of no incident: a top-up, an adjustment, an expiry, which makes a
          group of its own), ``scope`` (``incident``: rounded once,
          ``entry``: each line rounded alone), ``label`` (the incident's
          name: its ticket, task or line), ``contract`` and ``entries``;
        * ``lines``: dicts of ``date``, ``name``, ``employee``, ``hours``
          (entered time) and ``units`` (``None`` in an incident rounded
          once: its units are the incident's): for an incident rounded
          once, every line of the incident but those billed outside the
          retainer, also those that
          cost no unit (an earlier line paid the rounding step), dated within
          ``date_from``..``date_to`` when given (the period the entries were
          read for); otherwise the debits of the group; oldest first;
        * ``entered_hours``, ``units`` (the group's entries, net of
          corrections: what the incident cost, once) and ``billed_hours``.

        In a constant number of queries: one for the lines of the
        incidents rounded once, one per kind of incident for the labels."""
        incident = self.filtered(lambda entry: entry.incident_ref)
        keyed = defaultdict(lambda: self.browse())
        order = []
        for entry in self:
            key = (entry.contract_id.id, entry.incident_ref or entry.id)
            if key not in keyed:
                order.append(key)
            keyed[key] |= entry
        once = {
            (entry.contract_id.id, entry.incident_ref)
            for entry in incident
            if entry.rounding_scope == "incident"
        }
        quiet = [key for key in dict.fromkeys(quiet) if key not in keyed]
        order.extend(quiet)
        once.update(quiet)
        lines_by_key = defaultdict(list)
        if once:
            # Lines of these retainers only, read with the entries' rights
            # (the portal and the statement read in sudo after their checks).
            domain = [
                ("retainer_id", "in", list({key[0] for key in once})),
                ("retainer_incident_ref", "in", list({key[1] for key in once})),
                ("retainer_billed_outside", "=", False),
            ]
            if date_from:
                domain.append(("date", ">=", date_from))
            if date_to:
                domain.append(("date", "<=", date_to))
            lines = self.env["account.analytic.line"].search_fetch(
                domain,
                ["retainer_id", "retainer_incident_ref", "date", "name"]
                + ["employee_id", "unit_amount"],
                order="date asc, id asc",
            )
            for line in lines:
                key = (line.retainer_id.id, line.retainer_incident_ref)
                if key in once:
                    lines_by_key[key].append(
                        {
                            "date": line.date,
                            "name": line.name or "",
                            "employee": line.employee_id.name or "",
                            "hours": line.unit_amount,
                            "units": None,  # the incident's, once
                        }
                    )
        labels = self._retainer_incident_labels(
            incident.mapped("incident_ref") + [key[1] for key in quiet]
        )
        Contract = self.env["retainer.contract"]
        groups = []
        for key in order:
            entries = keyed[key].with_prefetch(self._prefetch_ids)
            contract = entries[:1].contract_id or Contract.browse(key[0])
            units = sum(entries.mapped("units"))
            ref = entries[:1].incident_ref or (key[1] if key in once else False)
            if key in once:
                lines = lines_by_key[key]
                entered = sum(line["hours"] for line in lines)
            else:
                lines = [
                    {
                        "date": entry.date,
                        "name": entry._customer_description(),
                        "employee": entry.employee_id.name or "",
                        "hours": entry.entered_hours,
                        "units": entry.units,
                    }
                    for entry in entries.sorted(lambda e: (e.date, e.id))
                    if entry.kind == "debit"
                ]
                entered = sum(entries.mapped("entered_hours"))
            groups.append(
                {
                    "ref": ref,
                    "scope": "incident" if key in once else "entry",
                    "label": labels.get(ref)
                    or (
                        entries[:1]._customer_description()
                        if entries
                        else (lines[:1] or [{"name": ref}])[0]["name"]
                    ),
                    "contract": contract,
                    "entries": entries,
                    "lines": lines,
                    "entered_hours": entered,
                    "units": units,
                    "billed_hours": contract._units_to_hours(-units),
                }
            )
        return groups

    @api.model
    def _retainer_incident_labels(self, refs):
        """``{incident: name}`` of the incidents ``refs`` (``"model,id"``):
        its ticket's, task's or line's name, one read per model; an incident
        whose record is gone has no name here."""
        ids_by_model = defaultdict(set)
        for ref in refs:
            model, _sep, record_id = (ref or "").partition(",")
            if model in self.env and record_id.isdigit():
                ids_by_model[model].add(int(record_id))
        labels = {}
        for model, ids in ids_by_model.items():
            for record in self.env[model].browse(sorted(ids)).exists():
                labels[f"{model},{record.id}"] = record.display_name
        return labels

    def _customer_description(self):
        """Customer-facing text of the entry.

        Usage shows the work description. Credits, adjustments and expiries
        show their reason: a manager writes it for the customer. The reasons
        of debits and reversals are internal ("Timesheet changed") and never
        shown.
        """
        self.ensure_one()
        if self.kind in ("credit", "adjustment", "expiry"):
            return self.reason or self.name or ""
        return self.name or ""

    def _customer_kind_label(self):
        """Customer-facing name of the kind of the entry."""
        self.ensure_one()
        if self.kind == "reversal":
            if self.effective_kind == "credit":
                return self.env._("Top-up cancelled")
            return self.env._("Correction")
        if self.kind == "credit" and self.block_entry_id:
            return self.env._("Rolled over")
        return {
            "credit": self.env._("Top-up"),
            "debit": self.env._("Usage"),
            "adjustment": self.env._("Adjustment"),
            "expiry": self.env._("Expiry"),
        }.get(self.kind, "")

    def _expiring_summary(self, today):
        """Return ``[(expiry date, units)]``, by date, of the blocks of
        ``self`` whose remaining units expire within ``EXPIRING_SOON_DAYS``
        days of ``today`` (what the "N units expire on DATE" notices say).
        Reads the computed block figures of ``self`` (one replay)."""
        horizon = today + timedelta(days=EXPIRING_SOON_DAYS)
        expiring = {}
        for block in self:
            if (
                block.is_block
                and block.expiry_date
                and today <= block.expiry_date <= horizon
                and block.remaining_units
            ):
                expiring[block.expiry_date] = (
                    expiring.get(block.expiry_date, 0) + block.remaining_units
                )
        return sorted(expiring.items())


def _checkpoint_row_terms():
    """SQL terms of a query that reads ledger rows (alias ``e``) and
    checkpoints in one column set: ``(the rows' columns, NULLs in their
    place but the id and contract, for a checkpoint's line)``."""
    columns = SQL(", ").join(
        SQL.identifier("e", name) for name in CHECKPOINT_REPLAY_COLUMNS
    )
    nulls = SQL(", ").join(SQL("NULL") for _name in CHECKPOINT_REPLAY_COLUMNS[2:])
    return columns, nulls


def _has_description(name):
    """Whether ``name`` describes an entry: not empty, and not the ``/``
    hr_timesheet gives a timesheet logged without a description."""
    return bool((name or "").strip("/ \t\n"))


def _split_checkpoints(fetched):
    """``({contract id: newest checkpoint state}, ledger rows)`` of rows
    fetched with their checkpoints (see
    ``retainer.ledger.entry._retainer_checkpoint_rows``), in id order."""
    checkpoints = {}
    rows = []
    for row in fetched:
        state = row[-1]
        if state is None:
            rows.append(row[:-1])
        elif state.get("version") == CHECKPOINT_VERSION:
            checkpoints[row[1]] = state  # ordered by id: the newest wins
    return checkpoints, rows


@functools.lru_cache(maxsize=64)
def _insert_template(names, column_types):
    """The code of the query inserting ledger rows of the columns ``names``
    (of ``column_types``), with one array parameter per column: composed
    once per set of columns (the same few come again and again), then given
    its arrays with ``SQL(code, *arrays)``."""
    query = SQL(
        "INSERT INTO retainer_ledger_entry (%s) SELECT * FROM unnest(%s) RETURNING id",
        SQL(", ").join(SQL.identifier(name) for name in names),
        SQL(", ").join(
            SQL("%s::%s[]", None, SQL(column_type)) for column_type in column_types
        ),
    )
    return query.code
