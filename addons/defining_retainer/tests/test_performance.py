from odoo.tests import tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestBatchQueries(RetainerCommon):
    """Retainer work on timesheets costs a constant number of queries per
    batch, whatever the batch size (no per-line query)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract._post_manual_entry("credit", 100000, "Large block")

    def _vals(self, project, count):
        return [
            {
                "project_id": project.id,
                "name": f"Incident {i}",
                "unit_amount": 0.25 + (i % 7) / 60,
                "employee_id": self.employee.id,
            }
            for i in range(count)
        ]

    def _queries(self, func):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        result = func()
        self.env.flush_all()
        return self.cr.sql_log_count - before, result

    def _measure(self, project, count):
        Line = self.env["account.analytic.line"]
        create, lines = self._queries(lambda: Line.create(self._vals(project, count)))
        write, _res = self._queries(lambda: lines.write({"unit_amount": 0.5}))
        unlink, _res = self._queries(lambda: lines.unlink())
        return {"create": create, "write": write, "unlink": unlink}

    def test_overhead_is_per_batch_not_per_line(self):
        # warm the caches (ormcache, prefetch of settings) before counting
        self._measure(self.plain_project, 5)
        self._measure(self.project, 5)
        plain_10 = self._measure(self.plain_project, 10)
        plain_100 = self._measure(self.plain_project, 100)
        retainer_10 = self._measure(self.project, 10)
        retainer_100 = self._measure(self.project, 100)
        for operation in ("create", "write", "unlink"):
            with self.subTest(operation):
                overhead_10 = retainer_10[operation] - plain_10[operation]
                overhead_100 = retainer_100[operation] - plain_100[operation]
                self.assertEqual(
                    overhead_10,
                    overhead_100,
                    f"{operation}: retainer overhead grows with the batch "
                    f"({retainer_10} vs {plain_10}, {retainer_100} vs {plain_100})",
                )
                self.assertLessEqual(overhead_100, 16)

    def test_batch_of_1000_is_debited_in_full(self):
        lines = self.env["account.analytic.line"].create(self._vals(self.project, 1000))
        expected = sum(lines.mapped("retainer_units"))
        self.assertEqual(self.contract.used_units, expected)
        debits = self.env["retainer.ledger.entry"]._retainer_active_debits(lines)
        self.assertEqual(len(debits), 1000)

    def test_plain_timesheets_leave_no_retainer_figure_to_compute(self):
        # Their zero figures are given in create(): computing them again for
        # every line of a batch (and UPDATE-ing the rows) is work for nothing.
        lines = self.env["account.analytic.line"].create(
            self._vals(self.plain_project, 3)
        )
        for fname in (
            "retainer_units",
            "retainer_billed_hours",
            "retainer_contact_type",
        ):
            with self.subTest(fname):
                field = lines._fields[fname]
                self.assertFalse(
                    [line for line in lines if self.env.is_to_compute(field, line)]
                )
        self.env.flush_all()
        self.env.invalidate_all()
        self.assertEqual(lines.mapped("retainer_units"), [0, 0, 0])
        self.assertEqual(lines.mapped("retainer_billed_hours"), [0.0, 0.0, 0.0])
        self.assertEqual(lines.mapped("retainer_contact_type"), [False] * 3)
        # Logging more time on a plain line still costs nothing.
        lines[0].unit_amount = 2
        self.assertEqual(lines[0].retainer_units, 0)
