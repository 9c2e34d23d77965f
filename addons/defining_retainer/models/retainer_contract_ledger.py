from collections import defaultdict

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# A correction can create or change a rollover block, which moves usage
# again; a few rounds always settle (each round only shrinks or grows the
# rollovers of blocks that already expired).
MAX_CORRECTION_ROUNDS = 5


# One model, one file per concern (core, posting, blocks, sales) to keep
# each file short.
class RetainerContract(models.Model):
    """The retainer's side of the posting path: locking, expiry corrections
    and the overdraft policy."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    # Set when a warned overdraft was notified, cleared when the balance is
    # back: one notification per overdraft, whoever posts.
    overdraft_notified = fields.Boolean(readonly=True, copy=False)

    # === POSTING === #

    def _lock_for_posting(self, fresh=None):
        """Lock the contract rows about to get ledger entries.

        Every posting takes the rows ``FOR NO KEY UPDATE`` (in id order, so
        no deadlock): concurrent postings on a retainer wait for each other
        instead of failing. But under REPEATABLE READ a waiting transaction
        still reads the ledger as it was when it started. A posting whose
        outcome depends on the others' (a ``block`` retainer's balance
        check, corrections of expired blocks) therefore also updates the
        row: if another posting committed since the transaction started,
        PostgreSQL refuses the update and Odoo retries the request against
        the new ledger.

        :param fresh: ids of the contracts that need that update; ``None``:
            all of them.
        :return: whether other postings may have committed since this
            transaction started (ids were handed out that it cannot see):
            what it read of the ledger may then be out of date.
        """
        if not self:
            return False
        self.env.cr.execute(
            SQL(
                "SELECT id FROM retainer_contract WHERE id IN %s ORDER BY id "
                "FOR NO KEY UPDATE",
                tuple(self.ids),
            )
        )
        # Sequences are not transactional: ids beyond the newest visible
        # row belong to postings this snapshot does not see (or that were
        # rolled back: a harmless false alarm).
        self.env.cr.execute(
            SQL(
                "SELECT last_value > COALESCE((SELECT max(id) FROM "
                "retainer_ledger_entry), 0) FROM retainer_ledger_entry_id_seq"
            )
        )
        [[maybe_stale]] = self.env.cr.fetchall()
        bump = self.ids if fresh is None else [i for i in self.ids if i in fresh]
        if bump:
            self.env.cr.execute(
                SQL(
                    "UPDATE retainer_contract SET ledger_version = ledger_version + 1 "
                    "WHERE id IN %s",
                    tuple(bump),
                )
            )
            self.browse(bump).invalidate_recordset(["ledger_version"])
        return maybe_stale

    def _retainer_posting_plan(self, vals_list):
        """What a posting of ``vals_list`` on ``self`` needs, read before the
        lock: the net units per contract, which contracts lose units, which
        have dated blocks (their overdraft is replayed) and which must read
        a fresh ledger (see :meth:`_lock_for_posting`)."""
        delta = defaultdict(int)
        lowering = set()
        earliest = {}
        for vals in vals_list:
            contract_id = vals["contract_id"]
            delta[contract_id] += vals["units"]
            if vals["units"] < 0:
                lowering.add(contract_id)
            date = fields.Date.to_date(vals.get("date")) or fields.Date.context_today(
                self
            )
            if vals["kind"] == "reversal" and vals["units"] < 0:
                # A block taken away moves usage of any date.
                date = date.min
            if vals["kind"] != "credit" and (
                contract_id not in earliest or date < earliest[contract_id]
            ):
                earliest[contract_id] = date
        today = fields.Date.context_today(self)
        self.env["retainer.ledger.entry"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT contract_id, max(expiry_date) FILTER (WHERE expiry_date < %s) "
                "FROM retainer_ledger_entry WHERE contract_id IN %s "
                "AND kind = 'credit' AND expiry_date IS NOT NULL GROUP BY contract_id",
                today,
                tuple(self.ids),
            )
        )
        last_expired = dict(self.env.cr.fetchall())
        dated = set(last_expired) | {
            vals["contract_id"] for vals in vals_list if vals.get("expiry_date")
        }
        fresh = set()
        for contract in self:
            cid = contract.id
            if contract.overdraft_policy == "block" and cid in lowering:
                fresh.add(cid)
            # Usage dated before a block that already expired may move units
            # of that block: its expiry is corrected from a fresh ledger.
            expired_until = last_expired.get(cid)
            if expired_until and cid in earliest and earliest[cid] <= expired_until:
                fresh.add(cid)
        return {
            "delta": dict(delta),
            "lowering": lowering,
            "dated": dated,
            "fresh": fresh,
        }

    def _retainer_after_posting(self, entries, plan, apply_overdraft_policy=True):
        """Second half of a posting, under the lock: correct the expiries of
        blocks the posting changed, then apply the overdraft policy."""
        Ledger = self.env["retainer.ledger.entry"]
        replays = {}
        if plan["dated"]:
            replays = Ledger._retainer_replay(sorted(plan["dated"]))
            for _round in range(MAX_CORRECTION_ROUNDS):
                processed = self.filtered(
                    lambda c, r=replays: c.id in r and r[c.id].processed
                )
                if not processed or not processed._retainer_reconcile_expiries(
                    replays, job=False
                ):
                    break
                replays = Ledger._retainer_replay(sorted(plan["dated"]))
        self._retainer_apply_overdraft_policy(
            entries, plan, replays, apply_overdraft_policy
        )

    def _retainer_overdraft_units(self, replays, exclude_ids=()):
        """Units of work no block pays for, per contract of ``self``:
        replayed for contracts in ``replays`` (dated blocks), else simply
        the balance below zero."""
        Ledger = self.env["retainer.ledger.entry"]
        plain = self.filtered(lambda c: c.id not in replays)
        totals = Ledger._retainer_totals(plain.ids) if plain else {}
        result = {}
        for contract in self:
            if contract.id in replays:
                result[contract.id] = replays[contract.id].allocation.overdraft
            else:
                result[contract.id] = max(-totals[contract.id]["balance"], 0)
        return result

    def _retainer_apply_overdraft_policy(self, entries, plan, replays, enforce=True):
        """Refuse a posting that overdraws a ``block`` retainer (unless
        ``enforce`` is False) and notify the first overdraft of a ``warn``
        one; clear the notification when the overdraft is covered.

        :raises UserError: for a ``block`` retainer the posting overdraws.
        """
        policed = self.filtered(
            lambda c: (
                (c.overdraft_policy == "block" and c.id in plan["lowering"] and enforce)
                or (c.overdraft_policy == "warn" and c.id in plan["lowering"])
                or c.overdraft_notified
            )
        )
        if not policed:
            return
        after = policed._retainer_overdraft_units(replays)
        blocked = policed.filtered(
            lambda c: c.overdraft_policy == "block" and after[c.id] and enforce
        )
        if blocked:
            before_replays = self.env["retainer.ledger.entry"]._retainer_replay(
                [c.id for c in blocked if c.id in replays], exclude_ids=entries.ids
            )
            for contract in blocked:
                if contract.id in replays:
                    replay = before_replays.get(contract.id)
                    before = replay.allocation.overdraft if replay else 0
                    available = replay.balance if replay else 0
                else:
                    available = -after[contract.id] - plan["delta"][contract.id]
                    before = max(-available, 0)
                if after[contract.id] > before:
                    raise UserError(
                        self.env._(
                            "Retainer %(retainer)s has %(balance)s left and this "
                            "time needs %(needed)s. Ask the customer for a top-up, "
                            "or a retainer manager can change its overdraft policy.",
                            retainer=contract.name,
                            balance=contract._format_units(max(available, 0)),
                            needed=contract._format_units(
                                max(-plan["delta"][contract.id], 0)
                            ),
                        )
                    )
        policed._retainer_update_overdraft_notice(after)
        # A posting may not see one committed while it ran: whether the two
        # together overdrew a warned retainer is checked again once both
        # are committed.
        missed = policed.filtered(
            lambda c: (
                plan.get("maybe_stale")
                and c.overdraft_policy == "warn"
                and c.id in plan["lowering"]
                and not c.overdraft_notified
            )
        )
        if missed:
            missed._retainer_recheck_overdraft_after_commit()

    def _retainer_update_overdraft_notice(self, overdraft):
        """Notify the first overdraft of each warned retainer of ``self``
        and clear the marker of those no longer overdrawn.

        :param dict overdraft: contract id -> units of work unpaid.
        """
        for contract in self:
            overdrawn = overdraft[contract.id]
            if overdrawn and not contract.overdraft_notified:
                if contract.overdraft_policy == "warn":
                    contract._retainer_notify_overdraft(-overdrawn)
                    # sudo: the marker belongs to the posting, not to the
                    # user, who may only read the retainer.
                    contract.sudo().overdraft_notified = True
            elif not overdrawn and contract.overdraft_notified:
                # sudo: as above.
                contract.sudo().overdraft_notified = False

    def _retainer_recheck_overdraft_after_commit(self):
        """Once this transaction is committed, check the overdraft notices
        of ``self`` again in a transaction of its own that reads the
        committed ledger (READ COMMITTED, after taking the retainers'
        locks): it sees every posting that committed before, so a crossing
        that no posting saw alone is notified once."""
        contract_ids = self.ids
        registry = self.env.registry

        @self.env.cr.postcommit.add
        def recheck():
            with registry.cursor() as cr:
                cr.execute(SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
                # The registry at hand: no need to look it up (and lock it)
                # by database name.
                cr.transaction = api.Transaction(registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                contracts = env["retainer.contract"].browse(contract_ids)
                cr.execute(
                    SQL(
                        "SELECT id FROM retainer_contract WHERE id IN %s "
                        "ORDER BY id FOR NO KEY UPDATE",
                        tuple(contract_ids),
                    )
                )
                warned = contracts.filtered(lambda c: c.overdraft_policy == "warn")
                Ledger = env["retainer.ledger.entry"]
                dated = Ledger.search(
                    [
                        ("contract_id", "in", warned.ids),
                        ("kind", "=", "credit"),
                        ("expiry_date", "!=", False),
                    ]
                ).contract_id
                replays = Ledger._retainer_replay(dated.ids)
                warned._retainer_update_overdraft_notice(
                    warned._retainer_overdraft_units(replays)
                )

    def _retainer_notify_overdraft(self, balance):
        self.ensure_one()
        message = self.env._(
            "Retainer %(retainer)s of %(customer)s is overdrawn: balance %(balance)s.",
            retainer=self.name,
            customer=self.partner_id.display_name,
            balance=self._format_units(balance),
        )
        # sudo: whoever logged the time may only read the contract; the note
        # and the manager's activity are the system's reaction, not an edit.
        contract_sudo = self.sudo()
        contract_sudo.message_post(body=message, subtype_xmlid="mail.mt_note")
        if self.user_id:
            contract_sudo.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Retainer overdrawn"),
                note=message,
                user_id=self.user_id.id,
            )
