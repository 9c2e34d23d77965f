from datetime import date, timedelta

from freezegun import freeze_time
from lxml import etree

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..tools import forecast as forecast_tools
from .common import RetainerCommon

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)


@tagged("post_install", "-at_install", "defining_retainer")
@freeze_time("2026-03-15")
class TestUsageReports(RetainerCommon):
    """The usage and utilisation analyses on a small known dataset: two
    customers, two consultants, two months, three delivery modes, one
    timesheet corrected (it counts once) and time on a plain project."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls._create_contract(cls.other_customer, cls.level_onsite, units=28)
        cls.other_project = cls._create_project(cls.other)
        log = cls._log_as_class
        cls.corrected = log(1.0, cls.project, cls.consultant, date(2026, 1, 5), "phone")
        log(cls.hm(3, 37), cls.project, cls.consultant, date(2026, 1, 12), "remote")
        log(0.5, cls.project, cls.manager, date(2026, 1, 20), "onsite")  # x1.5
        log(2.0, cls.plain_project, cls.consultant, date(2026, 1, 21))
        log(2.0, cls.other_project, cls.consultant, date(2026, 2, 3), "remote")
        log(1.0, cls.other_project, cls.manager, date(2026, 2, 9), "phone")
        # Corrected in February: its debit is reversed and posted again.
        cls.corrected.unit_amount = 2.0
        cls.contracts = cls.contract | cls.other

    @classmethod
    def _log_as_class(cls, hours, project, user, day, contact_type=False):
        employee = cls.env["hr.employee"].search([("user_id", "=", user.id)])
        vals = {
            "project_id": project.id,
            "name": "Support work",
            "unit_amount": hours,
            "employee_id": employee.id,
            "date": day,
        }
        if contact_type:
            vals["retainer_contact_type"] = contact_type
        return cls.env["account.analytic.line"].with_user(user).create(vals)

    def _usage(self, groupby):
        groups = self.env["retainer.usage.report"]._read_group(
            [("contract_id", "in", self.contracts.ids)],
            groupby,
            ["units:sum", "hours:sum", "entered_hours:sum"],
        )
        return {
            keys[0] if len(keys) == 1 else tuple(keys): (
                units,
                hours,
                round(entered, 4),
            )
            for *keys, units, hours, entered in groups
        }

    def test_usage_by_consultant(self):
        self.assertEqual(
            self._usage(["employee_id"]),
            {
                self.employee: (31, 7.75, round(2.0 + self.hm(3, 37) + 2.0, 4)),
                self.manager_employee: (7, 1.75, 1.5),
            },
        )

    def test_usage_by_delivery_mode(self):
        self.assertEqual(
            {
                mode: figures[0]
                for mode, figures in self._usage(["contact_type"]).items()
            },
            {"phone": 12, "remote": 23, "onsite": 3},
        )

    def test_usage_by_customer_and_month(self):
        self.assertEqual(
            {
                (partner, month): figures[0]
                for (partner, month), figures in self._usage(
                    ["partner_id", "date:month"]
                ).items()
            },
            {
                (self.customer, JAN): 26,
                (self.other_customer, FEB): 12,
            },
        )

    def test_usage_by_project_and_consultant_user(self):
        usage = self._usage(["project_id", "user_id"])
        self.assertEqual(
            {keys: figures[0] for keys, figures in usage.items()},
            {
                (self.project, self.consultant): 23,
                (self.project, self.manager): 3,
                (self.other_project, self.consultant): 8,
                (self.other_project, self.manager): 4,
            },
        )

    def test_correction_counts_once(self):
        rows = self.env["retainer.usage.report"].search(
            [("contract_id", "=", self.contract.id), ("contact_type", "=", "phone")]
        )
        self.assertEqual(sorted(rows.mapped("units")), [-4, 4, 8])
        self.assertEqual(sum(rows.mapped("units")), 8)

    def test_utilisation_by_consultant_and_month(self):
        groups = self.env["retainer.utilisation.report"]._read_group(
            [("employee_id", "in", (self.employee | self.manager_employee).ids)],
            ["employee_id", "date:month"],
            ["logged_hours:sum", "units:sum", "billed_hours:sum", "utilisation:avg"],
        )
        figures = {
            (employee, month): (round(logged, 4), units, billed, round(ratio, 2))
            for employee, month, logged, units, billed, ratio in groups
        }
        jan_logged = 2.0 + self.hm(3, 37) + 2.0
        self.assertEqual(
            figures,
            {
                (self.employee, JAN): (
                    round(jan_logged, 4),
                    23,
                    5.75,
                    round(100 * 5.75 / jan_logged, 2),
                ),
                (self.employee, FEB): (2.0, 8, 2.0, 100.0),
                # On-site time is billed at 1.5 times its duration.
                (self.manager_employee, JAN): (0.5, 3, 0.75, 150.0),
                (self.manager_employee, FEB): (1.0, 4, 1.0, 100.0),
            },
        )
        # A group's ratio is its billed over its logged hours, not the
        # average of its rows.
        [(ratio,)] = self.env["retainer.utilisation.report"]._read_group(
            [("employee_id", "=", self.employee.id)], [], ["utilisation:avg"]
        )
        self.assertAlmostEqual(ratio, 100 * 7.75 / (jan_logged + 2.0))

    def test_retainer_buttons(self):
        action = self.contract.action_view_usage()
        self.assertEqual(
            sum(
                self.env["retainer.usage.report"]
                .search(action["domain"])
                .mapped("units")
            ),
            self.contract.used_units,
        )
        action = self.contract.action_view_balance_graph()
        balance_view = self.env.ref(
            "defining_retainer.retainer_ledger_entry_view_graph_balance"
        )
        self.assertEqual(tuple(action["views"][0]), (balance_view.id, "graph"))
        [(units,)] = self.env["retainer.ledger.entry"]._read_group(
            action["domain"], [], ["units:sum"]
        )
        self.assertEqual(units, self.contract.balance_units)

    def test_access(self):
        """Whoever logs time sees the usage of the retainers, not how
        busy the others are: utilisation is for managers."""
        usage = self.env["retainer.usage.report"].with_user(self.consultant)
        self.assertEqual(usage.search_count([("contract_id", "=", self.other.id)]), 2)
        with self.assertRaisesRegex(AccessError, "Retainer Utilisation Analysis"):
            self.env["retainer.utilisation.report"].with_user(
                self.consultant
            ).search_read([], ["logged_hours"])
        utilisation = self.env["retainer.utilisation.report"].with_user(self.manager)
        self.assertTrue(
            utilisation.search_count([("employee_id", "=", self.employee.id)])
        )


@tagged("post_install", "-at_install", "defining_retainer")
class TestForecastReport(RetainerCommon):
    """ "Running out": the forecast of every retainer, as the alerts and the
    portal make it, filtered on empty or overdrawn now or within N days.
    The view takes today's date from the database, so the dataset is built
    around that date (no frozen clock)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.cr.execute(SQL("SELECT (now() AT TIME ZONE 'UTC')::date"))
        cls.today = cls.env.cr.fetchone()[0]
        cls.retainers = {}
        for name, credit, used, days_ago in (
            ("overdrawn", 4, 8, 5),
            ("used_up", 8, 8, 5),
            ("soon", 100, 90, 30),  # 10 units left at 1 a day: 10 days
            ("later", 75, 45, 20),  # 30 units left at 0.5 a day: 60 days
            ("healthy", 1000, 9, 20),  # 991 left at 0.1 a day: beyond 5 years
            ("no_usage", 10, 0, 0),
            ("old_usage", 20, 10, 200),  # nothing in the last 90 days
        ):
            cls.retainers[name] = cls._retainer_with(name, credit, used, days_ago)

    @classmethod
    def _retainer_with(cls, name, credit, used, days_ago):
        partner = cls.env["res.partner"].create({"name": f"Forecast {name}"})
        contract = cls._create_contract(partner, cls.level_onsite)
        Ledger = cls.env["retainer.ledger.entry"]
        Ledger._post(
            [
                {
                    "contract_id": contract.id,
                    "kind": "credit",
                    "units": credit,
                    "reason": "Block",
                    "date": cls.today - timedelta(days=300),
                }
            ]
        )
        if used:
            Ledger._post(
                [
                    {
                        "contract_id": contract.id,
                        "kind": "debit",
                        "units": -used,
                        "name": "Work",
                        "date": cls.today - timedelta(days=days_ago),
                    }
                ]
            )
        return contract

    def _filtered(self, domain):
        rows = self.env["retainer.forecast.report"].search(domain)
        return {
            name
            for name, contract in self.retainers.items()
            if contract in rows.contract_id
        }

    def _search_arch(self):
        view = self.env.ref("defining_retainer.retainer_forecast_report_view_search")
        return etree.fromstring(view.arch)

    def test_running_out_filter(self):
        arch = self._search_arch()
        domain = arch.xpath("//filter[@name='filter_running_out']")[0].get("domain")
        self.assertEqual(
            self._filtered(safe_eval(domain)), {"overdrawn", "used_up", "soon"}
        )
        domain = arch.xpath("//filter[@name='filter_running_out_90']")[0].get("domain")
        self.assertEqual(
            self._filtered(safe_eval(domain)),
            {"overdrawn", "used_up", "soon", "later"},
        )
        # Any number of days, typed in the search box.
        field_domain = arch.xpath("//field[@name='days_left']")[0].get("filter_domain")
        for days, expected in (
            (9, {"overdrawn", "used_up"}),
            (10, {"overdrawn", "used_up", "soon"}),
            (3000, {"overdrawn", "used_up", "soon", "later"}),
        ):
            with self.subTest(days=days):
                self.assertEqual(
                    self._filtered(safe_eval(field_domain, {"self": days})), expected
                )
        action = self.env.ref("defining_retainer.retainer_forecast_report_action")
        self.assertIn("search_default_filter_running_out", action.context)

    def test_forecast_dates(self):
        rows = self.env["retainer.forecast.report"].search(
            [("contract_id", "in", [c.id for c in self.retainers.values()])]
        )
        by_name = {
            name: rows.filtered(lambda row, c=contract: row.contract_id == c)
            for name, contract in self.retainers.items()
        }
        self.assertEqual(
            {name: (row.status, row.days_left) for name, row in by_name.items()},
            {
                "overdrawn": ("overdrawn", 0),
                "used_up": ("exhausted", 0),
                "soon": ("forecast", 10),
                "later": ("forecast", 60),
                "healthy": ("beyond_horizon", 0),
                "no_usage": ("no_usage", 0),
                "old_usage": ("no_usage", 0),
            },
        )
        self.assertEqual(
            by_name["soon"].depletion_date, self.today + timedelta(days=10)
        )
        self.assertEqual(by_name["overdrawn"].balance_units, -4)
        self.assertEqual(by_name["later"].window_units, 45)
        self.assertEqual(by_name["later"].balance_hours, 7.5)

    def test_report_agrees_with_the_forecast_of_the_retainer(self):
        """The view's SQL is ``forecast.forecast_depletion``: same status,
        days, date and rate as the alerts and the portal compute."""
        contracts = self.env["retainer.contract"].browse(
            [contract.id for contract in self.retainers.values()]
        )
        forecasts = contracts._retainer_forecasts(today=self.today)
        rows = self.env["retainer.forecast.report"].search(
            [("contract_id", "in", contracts.ids)]
        )
        self.assertEqual(len(rows), len(contracts))
        for row in rows:
            forecast = forecasts[row.contract_id.id]
            with self.subTest(retainer=row.contract_id.partner_id.name):
                self.assertEqual(row.status, forecast.status)
                self.assertEqual(row.days_left or None, forecast.days_left)
                self.assertEqual(row.depletion_date or None, forecast.depletion_date)
                self.assertAlmostEqual(row.daily_units, forecast.daily_units)
        soon = self.retainers["soon"]
        self.assertEqual(soon.forecast_status, forecast_tools.STATUS_FORECAST)
        self.assertEqual(soon.forecast_date, self.today + timedelta(days=10))
