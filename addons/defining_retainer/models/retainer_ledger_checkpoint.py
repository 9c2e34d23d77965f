from odoo import fields, models
from odoo.tools import create_index


class RetainerLedgerCheckpoint(models.Model):
    """The allocation of a retainer's ledger as it was after one entry.

    Derived data, never edited: a posting on a retainer with dated blocks
    replays its ledger from the newest checkpoint instead of from its first
    entry, so its cost does not grow with the ledger (see
    ``tools/allocation.py`` and ``retainer.ledger.entry._retainer_replay``).
    Entries before a checkpoint never change (the ledger is append-only and
    postings on a retainer follow each other under its lock), and a
    checkpoint is written in the transaction of the entries it covers: it
    is rolled back with them. Rows are only inserted (one every
    ``CHECKPOINT_EVERY`` entries), so concurrent postings never update the
    same row.
    """

    _name = "retainer.ledger.checkpoint"
    _description = "Retainer Ledger Checkpoint"
    _log_access = False

    contract_id = fields.Many2one(
        "retainer.contract", required=True, ondelete="cascade", readonly=True
    )
    entry_id = fields.Integer(
        required=True, readonly=True, help="Last ledger entry replayed."
    )
    state = fields.Json(required=True, readonly=True)
    # What paid for the work the replay saw that is paid in full (the state
    # keeps no such work): a later release of it continues from a checkpoint
    # instead of a replay from before the work (empty: written before such
    # records were kept; see tools.allocation.newest_settled).
    settled = fields.Json(readonly=True)

    def init(self):
        create_index(
            self.env.cr,
            "retainer_ledger_checkpoint_contract_entry_index",
            self._table,
            ["contract_id", "entry_id"],
        )
