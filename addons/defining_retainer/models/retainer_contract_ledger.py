from collections import defaultdict

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools.server_values import server_values

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
    overdraft_notified = fields.Boolean(
        readonly=True, copy=False, groups="base.group_user"
    )

    # === POSTING === #

    def _lock_for_posting(self, bump=False):
        """Lock the contract rows about to get ledger entries.

        Every posting takes the rows ``FOR NO KEY UPDATE`` (in id order, so
        no deadlock) and keeps them until its transaction ends: postings on
        a retainer wait for each other instead of failing. Nothing updates
        the row, so a waiting posting never gets a serialization failure.
        Under REPEATABLE READ it still reads the ledger as it was when its
        transaction started: what a decision needs (a balance, the
        allocation) is read with ``retainer.ledger.entry._retainer_current_*``,
        which also sees what was committed since.

        :param bool bump: also update the rows. For postings that write
            entries which a concurrent posting may act on (expiries and
            rollovers, reversals of credits): a posting that started before
            and waits for the lock then fails with a serialization failure
            and Odoo retries it with a view that includes these entries.
        """
        if not self:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM retainer_contract WHERE id IN %s ORDER BY id "
                "FOR NO KEY UPDATE",
                tuple(self.ids),
            )
        )
        if bump:
            self.env.cr.execute(
                SQL(
                    "UPDATE retainer_contract SET ledger_version = ledger_version + 1 "
                    "WHERE id IN %s",
                    tuple(self.ids),
                )
            )
            self.invalidate_recordset(["ledger_version"])

    def _retainer_posting_plan(self, vals_list):
        """What a posting of ``vals_list`` on ``self`` needs: the net units
        per contract, which contracts lose units and which have dated blocks
        (their overdraft and expiries are replayed)."""
        delta = defaultdict(int)
        lowering = set()
        for vals in vals_list:
            delta[vals["contract_id"]] += vals["units"]
            if vals["units"] < 0:
                lowering.add(vals["contract_id"])
        self.env["retainer.ledger.entry"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT contract_id FROM retainer_ledger_entry "
                "WHERE contract_id IN %s AND kind = 'credit' "
                "AND expiry_date IS NOT NULL",
                tuple(self.ids),
            )
        )
        dated = {row[0] for row in self.env.cr.fetchall()} | {
            vals["contract_id"] for vals in vals_list if vals.get("expiry_date")
        }
        return {"delta": dict(delta), "lowering": lowering, "dated": dated}

    def _retainer_after_posting(self, entries, plan, apply_overdraft_policy=True):
        """Second half of a posting, under the lock: correct the expiries of
        blocks the posting changed, then apply the overdraft policy and the
        balance rules (``_retainer_balance_changed``).

        Whatever the number of retainers and entries, this costs a constant
        number of queries (plus the emails and orders of the retainers that
        cross a threshold): the balances the rules need are read once, with
        ``_retainer_current_balances``.
        """
        Ledger = self.env["retainer.ledger.entry"]
        replays = {}
        # Units the posting moved per contract, its expiry corrections
        # included: the balance before it is the balance now minus these.
        deltas = defaultdict(int, plan["delta"])
        if plan["dated"]:
            replays = Ledger._retainer_current_replay(sorted(plan["dated"]))
            for _round in range(MAX_CORRECTION_ROUNDS):
                processed = self.filtered(
                    lambda c, r=replays: c.id in r and r[c.id].processed
                )
                if not processed or not processed._retainer_reconcile_expiries(
                    replays, job=False, deltas=deltas
                ):
                    break
                replays = Ledger._retainer_current_replay(sorted(plan["dated"]))
        policed = self._retainer_overdraft_policed(plan, apply_overdraft_policy)
        watched = self._retainer_balance_watched(deltas)
        needed = policed.filtered(lambda c: c.id not in replays) | watched
        balances = Ledger._retainer_current_balances(needed.ids) if needed else {}
        self._retainer_apply_overdraft_policy(
            entries, plan, replays, apply_overdraft_policy, balances=balances
        )
        watched._retainer_balance_changed(deltas, balances)

    # === BALANCE RULES === #

    def _retainer_balance_watched(self, deltas):
        """The contracts of ``self`` that a balance rule may act on after a
        posting of ``deltas`` (contract id -> units moved): only their
        balances need reading. See ``_retainer_balance_changed``."""
        watched = self._retainer_low_balance_watched(deltas)
        return watched | self._retainer_auto_topup_watched(deltas)

    def _retainer_balance_changed(self, deltas, balances):
        """Apply the rules that follow the balance (the low balance alert,
        the automatic top-up) to the contracts of ``self`` after a posting of
        ``deltas``, under its lock. Every posting path calls this one method
        (``_retainer_after_posting``, the expiry job): a new rule is added
        here and in ``_retainer_balance_watched``.

        :param dict deltas: contract id -> units the posting moved.
        :param dict balances: contract id -> balance now, for the contracts
            ``_retainer_balance_watched`` returns.
        """
        # Both selected first: a rule's emails and notes may drop the
        # contracts from the cache, and reading them again costs a query.
        low_balance = self._retainer_low_balance_watched(deltas)
        auto_topup = self._retainer_auto_topup_watched(deltas)
        low_balance._retainer_update_low_balance_notice(deltas, balances)
        auto_topup._retainer_update_auto_topup(deltas, balances)

    def _retainer_overdraft_units(self, replays, balances=None):
        """Units of work no block pays for now, per contract of ``self``:
        from ``replays`` for contracts with dated blocks, else the current
        balance below zero (contracts locked by this transaction; read
        unless ``balances`` gives them)."""
        Ledger = self.env["retainer.ledger.entry"]
        plain = self.filtered(lambda c: c.id not in replays)
        if balances is None:
            balances = Ledger._retainer_current_balances(plain.ids) if plain else {}
        result = {}
        for contract in self:
            if contract.id in replays:
                result[contract.id] = replays[contract.id].allocation.overdraft
            else:
                result[contract.id] = max(-balances.get(contract.id, 0), 0)
        return result

    def _retainer_overdraft_policed(self, plan, enforce=True):
        """The contracts of ``self`` the overdraft policy looks at after a
        posting of ``plan``: those it may refuse or warn about, and those
        whose overdraft notification may be cleared."""
        return self.filtered(
            lambda c: (
                (c.overdraft_policy == "block" and c.id in plan["lowering"] and enforce)
                or (c.overdraft_policy == "warn" and c.id in plan["lowering"])
                or c.overdraft_notified
            )
        )

    def _retainer_apply_overdraft_policy(
        self, entries, plan, replays, enforce=True, balances=None
    ):
        """Refuse a posting that overdraws a ``block`` retainer (unless
        ``enforce`` is False) and notify the first overdraft of a ``warn``
        one; clear the notification when the overdraft is covered.

        :param balances: current balances of the contracts without dated
            blocks, when already read (see ``_retainer_overdraft_units``).
        :raises UserError: for a ``block`` retainer the posting overdraws.
        """
        policed = self._retainer_overdraft_policed(plan, enforce)
        if not policed:
            return
        after = policed._retainer_overdraft_units(replays, balances)
        blocked = policed.filtered(
            lambda c: c.overdraft_policy == "block" and after[c.id] and enforce
        )
        if blocked:
            before_replays = self.env["retainer.ledger.entry"]._retainer_current_replay(
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
                    with server_values():
                        contract.sudo().overdraft_notified = True
            elif not overdrawn and contract.overdraft_notified:
                # sudo: as above.
                with server_values():
                    contract.sudo().overdraft_notified = False

    def _retainer_notify_overdraft(self, balance):
        """Tell the account manager (a note and an activity) and the
        customer's contacts (an email) that the retainer is overdrawn by
        ``-balance`` units of work no block pays for."""
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
        self._retainer_post_customer_mail(
            "defining_retainer.mail_template_retainer_overdraft",
            "alert",
            render_values=self._retainer_units_values(-balance),
        )
