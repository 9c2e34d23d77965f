from odoo import fields, models
from odoo.tools import SQL


class RetainerExpiryWarning(models.Model):
    """One expiry warning sent to a retainer's customer: which block, which
    warning (days before its expiry) and when.

    The record is written before the email, in the same transaction, and
    is unique per block and warning: a second run of the job, a retry after
    a crash or two servers running it at once send each warning once.
    """

    _name = "retainer.expiry.warning"
    _description = "Retainer Expiry Warning"
    _order = "sent_at desc, id desc"
    # Written by the job only, never edited: when is sent_at.
    _log_access = False

    contract_id = fields.Many2one(
        "retainer.contract",
        string="Retainer",
        required=True,
        index=True,
        readonly=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="contract_id.company_id")
    block_entry_id = fields.Many2one(
        "retainer.ledger.entry",
        string="Block",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    warning_days = fields.Integer(
        string="Days before expiry",
        required=True,
        readonly=True,
        help="The warning sent: this many days (or fewer, for a late run) "
        "before the block expires.",
    )
    expiry_date = fields.Date(readonly=True)
    units = fields.Integer(readonly=True, help="Units left in the block then.")
    sent_at = fields.Datetime(readonly=True, default=fields.Datetime.now)

    _sql_constraints = [
        (
            "block_warning_unique",
            "UNIQUE(block_entry_id, warning_days)",
            "This warning was already sent for this block.",
        ),
    ]

    def _insert_once(self, vals_list):
        """Insert the warnings of ``vals_list`` that nobody recorded yet and
        return those (the others were sent by another run): a concurrent run
        inserting the same warning waits for this one, then inserts nothing
        (or fails and is retried, and then finds it)."""
        if not vals_list:
            return self.browse()
        self.flush_model()
        columns = ("contract_id", "block_entry_id", "warning_days", "expiry_date")
        self.env.cr.execute(
            SQL(
                "INSERT INTO retainer_expiry_warning "
                "(contract_id, block_entry_id, warning_days, expiry_date, units, "
                "sent_at) "
                "SELECT *, %s FROM unnest(%s::int[], %s::int[], %s::int[], "
                "%s::date[], %s::int[]) "
                "ON CONFLICT (block_entry_id, warning_days) DO NOTHING RETURNING id",
                self.env.cr.now(),
                *([vals[name] for vals in vals_list] for name in columns),
                [vals["units"] for vals in vals_list],
            )
        )
        return self.browse(row[0] for row in self.env.cr.fetchall())
