from unittest.mock import patch

from odoo import sql_db
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import SQL

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestSingleSave(RetainerCommon):
    """What one timesheet saved on a retainer costs beyond the same save on
    a plain project: the posting lock, whose query also reads the retainer
    and its level (``retainer.contract._lock_for_usage``), the ledger
    insert and, for a retainer whose rules follow the balance, the balance
    as committed (read on a connection of its own: postings wait for the
    lock instead of failing, so the transaction's snapshot may predate the
    posting it waited for)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.env.ref("base.user_root")
        cls.env["hr.employee"].create({"name": "Root", "user_id": cls.root.id})
        # The plain project is the customer's too: a line reads its partner.
        cls.plain_project.partner_id = cls.customer

    def _save(self, project, user=None, warm_up=None):
        """Log half an hour on ``project`` with a fresh cache, after a first
        save on ``warm_up`` (for the registry's caches; a retainer's save is
        then its transaction's first posting on it, as a request's is);
        return the queries run."""
        self._log(0.25, project=warm_up or project, user=user)
        self.env.flush_all()
        self.env.invalidate_all()
        executed = []
        execute = sql_db.Cursor.execute

        def spy(cursor, query, params=None, log_exceptions=True):
            executed.append(str(query.code if isinstance(query, SQL) else query))
            return execute(cursor, query, params, log_exceptions)

        with patch.object(sql_db.Cursor, "execute", spy):
            self._log(0.5, project=project, user=user)
            self.env.flush_all()
        return executed

    @classmethod
    def _kinds_beyond(cls, queries, plain_queries):
        """What ``queries`` run beyond ``plain_queries`` (compared by their
        beginning), named."""
        beyond = list(queries)
        for query in plain_queries:
            same = next((q for q in beyond if q[:80] == query[:80]), None)
            if same:
                beyond.remove(same)
        return [cls._kind(query) for query in beyond]

    @staticmethod
    def _kind(query):
        if "FOR NO KEY UPDATE" in query:
            return "lock"
        if query.startswith("INSERT INTO retainer_ledger_entry"):
            return "ledger insert"
        if "READ COMMITTED" in query:
            return "committed balance"
        if "e.id > t.newest" in query:
            return "own rows"
        return query[:120]

    def _retainer_reads(self, queries):
        """The ORM's reads of retainers and levels (not the lock query)."""
        return [
            query
            for query in queries
            if query.startswith(
                ('SELECT "retainer_contract"', 'SELECT "retainer_level"')
            )
            and "FOR NO KEY UPDATE" not in query
        ]

    def _warm_up_project(self, **vals):
        """A project on another retainer of the same customer and level."""
        contract = self._create_contract(
            self.customer, self.level_onsite, units=56, **vals
        )
        return self._create_project(contract)

    def test_save_costs_the_lock_the_insert_and_the_committed_balance(self):
        # Warned overdraft: the policy follows the balance.
        self.assertEqual(self.contract.overdraft_policy, "warn")
        plain = self._save(self.plain_project)
        retainer = self._save(self.project, warm_up=self._warm_up_project())
        # The retainer's opening block was posted in this test's
        # transaction: its rows are read beside the committed balance (a
        # request's first posting on a retainer does not read them, see
        # TestConcurrentUsage.test_own_rows_read_only_after_an_earlier_posting).
        self.assertEqual(
            self._kinds_beyond(retainer, plain),
            ["lock", "ledger insert", "committed balance", "own rows"],
        )
        self.assertFalse(self._retainer_reads(retainer), "read by the lock query")
        lock = next(query for query in retainer if "FOR NO KEY UPDATE" in query)
        self.assertIn('"usage_level"', lock, "the level is read with it")

    def test_save_on_a_retainer_without_balance_rules_costs_two_queries(self):
        """Overdraft allowed and no alert: no rule needs the balance, a save
        costs the lock and the ledger insert only."""
        contract = self._create_contract(
            self.customer, self.level_onsite, units=56, overdraft_policy="allow"
        )
        self.assertFalse(contract.low_balance_units)
        project = self._create_project(contract)
        plain = self._save(self.plain_project)
        retainer = self._save(
            project, warm_up=self._warm_up_project(overdraft_policy="allow")
        )
        self.assertEqual(self._kinds_beyond(retainer, plain), ["lock", "ledger insert"])
        self.assertEqual(contract.balance_units, 56 - 2)

    def test_superuser_save_costs_the_same_beyond_plain_as_a_consultant_save(self):
        """A consultant's save reads the retainer under the access rules in
        the same query (the level only where the rules let them read it) as
        the superuser's reads it without them."""
        kinds = []
        for user in (self.consultant, self.root):
            plain = self._save(self.plain_project, user=user)
            retainer = self._save(
                self._warm_up_project(overdraft_policy="allow"),
                user=user,
                warm_up=self._warm_up_project(overdraft_policy="allow"),
            )
            self.assertFalse(self._retainer_reads(retainer))
            kinds.append(self._kinds_beyond(retainer, plain))
        self.assertEqual(kinds, [["lock", "ledger insert"]] * 2)

    def test_lock_query_caches_what_a_read_gives(self):
        """The values the lock query puts in cache are those the ORM reads:
        every field of the default prefetch group of the retainer and of
        its level, for a user of the retainer group as for the superuser."""
        for user in (self.consultant, self.root):
            with self.subTest(user=user.login):
                contract = self.contract.with_user(user)
                contract.env.invalidate_all()
                contract._lock_for_usage()
                names, level_names, _columns = contract._retainer_usage_columns()
                self.assertIn("rounding_method", names)
                self.assertIn("onsite_multiplier", level_names)
                level = contract.level_id

                def cached(record, names):
                    return {
                        name: record._fields[name].convert_to_record(
                            record.env.cache.get(record, record._fields[name]),
                            record,
                        )
                        for name in names
                    }

                cached_contract = cached(contract, names)
                cached_level = cached(level, level_names)
                contract.env.invalidate_all()
                for name, value in cached_contract.items():
                    self.assertEqual(value, contract[name], name)
                for name, value in cached_level.items():
                    self.assertEqual(value, level[name], name)

    def test_retainer_of_another_company_is_refused_before_anything_is_written(self):
        """A user who may not read the retainer gets the access error of a
        read, from the lock query, and nothing is written."""
        other, outsider = self._user_of_other_company(
            "Other Retainer Co", "retainer_outsider"
        )
        self.env["hr.employee"].create(
            {"name": "Otto Outsider", "user_id": outsider.id, "company_id": other.id}
        )
        lines = self.env["account.analytic.line"].search_count([])
        entries = self._ledger_count()
        with self.assertRaisesRegex(AccessError, "Retainer"):
            self.contract.with_user(outsider)._lock_for_usage()
        with self.assertRaisesRegex(AccessError, "Retainer"):
            self._log(0.5, user=outsider)
        self.assertEqual(self.env["account.analytic.line"].search_count([]), lines)
        self.assertEqual(self._ledger_count(), entries)
