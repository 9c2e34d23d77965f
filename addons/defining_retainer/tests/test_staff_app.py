from lxml import etree

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import file_path

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestStaffApp(RetainerCommon):
    """The Retainers app: its menus for each group, the shortcuts in the
    Timesheets and Sales apps, and what a plain timesheet user may not do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.env.ref("defining_retainer.retainer_menu_root")
        # Logs time and nothing else (group_hr_timesheet_user implies the
        # retainer user group).
        cls.logger = new_test_user(
            cls.env,
            login="retainer_time_logger",
            groups="hr_timesheet.group_hr_timesheet_user",
        )

    def _visible(self, user, parent):
        """xml ids of the menus under ``parent`` that ``user`` sees: those
        visible with all their ancestors (the menu tree is shown from the
        top)."""
        Menu = self.env["ir.ui.menu"].with_user(user)
        visible = Menu._visible_menu_ids()
        menus = Menu.with_context(**{"ir.ui.menu.full_list": True}).search(
            [("id", "child_of", parent.id)]
        )
        shown = menus.filtered(
            lambda menu: all(
                int(menu_id) in visible for menu_id in menu.parent_path.split("/")[:-1]
            )
        )
        return set(shown.get_external_id().values())

    def test_app_on_the_home_menu(self):
        self.assertFalse(self.root.parent_id)
        self.assertEqual(
            self.root.web_icon, "defining_retainer,static/description/icon.png"
        )
        self.assertTrue(file_path("defining_retainer/static/description/icon.png"))
        # It opens on the retainers themselves.
        first = (
            self.env["ir.ui.menu"]
            .with_user(self.logger)
            .search([("parent_id", "=", self.root.id)])[0]
        )
        self.assertEqual(
            first, self.env.ref("defining_retainer.retainer_contract_menu")
        )
        self.assertEqual(
            first.action, self.env.ref("defining_retainer.retainer_contract_action")
        )

    def test_menus_by_group(self):
        common = {
            "defining_retainer.retainer_menu_root",
            "defining_retainer.retainer_contract_menu",
            "defining_retainer.retainer_audit_menu",
            "defining_retainer.retainer_ledger_entry_menu",
            "defining_retainer.retainer_report_menu",
            "defining_retainer.retainer_usage_report_menu",
            "defining_retainer.retainer_forecast_report_menu",
            "defining_retainer.retainer_ledger_entry_menu_analysis",
        }
        configuration = {
            "defining_retainer.retainer_utilisation_report_menu",
            "defining_retainer.retainer_config_menu",
            "defining_retainer.retainer_level_menu",
            "defining_retainer.retainer_product_menu",
            "defining_retainer.retainer_technology_menu",
        }
        self.assertEqual(self._visible(self.logger, self.root), common)
        self.assertEqual(self._visible(self.manager, self.root), common | configuration)
        admin = self.env.ref("base.user_admin")
        self.assertEqual(
            self._visible(admin, self.root),
            common
            | configuration
            | {"defining_retainer.retainer_config_settings_menu"},
        )

    def test_shortcuts_after_each_app_first_menu(self):
        timesheets = self.env.ref("hr_timesheet.timesheet_menu_root")
        menus = (
            self.env["ir.ui.menu"]
            .with_user(self.logger)
            .search([("parent_id", "=", timesheets.id)])
        )
        shortcut = self.env.ref("defining_retainer.retainer_contract_menu_timesheet")
        self.assertIn(shortcut, menus)
        self.assertEqual(
            menus[0], self.env.ref("hr_timesheet.timesheet_menu_activity_user")
        )
        # In Sales, next to the customers, under Orders (Quotations first).
        sale_shortcut = self.env.ref("defining_retainer.retainer_contract_menu_sale")
        self.assertEqual(sale_shortcut.parent_id, self.env.ref("sale.sale_order_menu"))
        self.assertGreater(
            sale_shortcut.sequence, self.env.ref("sale.res_partner_menu").sequence
        )
        # Ledger and configuration live in the app only; so does the action
        # of the retainers, so that a link to a retainer opens in the app
        # (the web client finds the app of an action through its menus).
        Menu = self.env["ir.ui.menu"].with_context(**{"ir.ui.menu.full_list": True})
        for xmlid in (
            "retainer_contract_action",
            "retainer_level_action",
            "retainer_ledger_entry_action",
        ):
            action = self.env.ref(f"defining_retainer.{xmlid}")
            menus = Menu.search([("action", "=", f"{action._name},{action.id}")])
            self.assertTrue(menus)
            self.assertEqual(
                menus.filtered_domain([("id", "child_of", self.root.id)]), menus
            )

    def test_settings_app_is_named(self):
        view = self.env["res.config.settings"].get_views([(False, "form")])
        arch = etree.fromstring(view["views"]["form"]["arch"])
        [app] = arch.xpath("//app[@name='defining_retainer']")
        self.assertEqual(app.get("string"), "Retainers")

    def test_salesman_opens_a_retainer(self):
        """A salesman (a retainer user without timesheet rights) reads the
        retainer form and its reports, without the timesheets behind it."""
        salesman = new_test_user(
            self.env, login="retainer_seller", groups="sales_team.group_sale_salesman"
        )
        self._log(1.0)
        contract = self.contract.with_user(salesman)
        views = contract.get_views([(False, "form")])
        fields_spec = {
            name: {} for name in views["models"]["retainer.contract"]["fields"]
        }
        [values] = contract.web_read(fields_spec)
        self.assertEqual(values["balance_units"], 52)
        self.assertEqual(contract.timesheet_count, 0)
        usage = self.env["retainer.usage.report"].with_user(salesman)
        self.assertEqual(usage.search(contract.action_view_usage()["domain"]).units, 4)

    def test_time_logger_cannot_change_retainer_settings(self):
        contract = self.contract.with_user(self.logger)
        self.assertEqual(contract.rounding_unit_minutes, 15)  # may read them
        for vals in (
            {"overdraft_policy": "allow"},
            {"rounding_method": "up"},
            {"rounding_grace_minutes": 0},
            {"level_id": self.level_phone.id},
        ):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(
                    AccessError, r"not allowed to modify 'Retainer'"
                ),
            ):
                contract.write(vals)
        self.env.invalidate_all()
        self.assertEqual(
            (
                self.contract.overdraft_policy,
                self.contract.rounding_method,
                self.contract.rounding_grace_minutes,
                self.contract.level_id,
            ),
            ("warn", "grace", 5, self.level_onsite),
        )
        # Nor read or write the company defaults on the Settings page.
        Settings = self.env["res.config.settings"].with_user(self.logger)
        with self.assertRaisesRegex(AccessError, r"res\.config\.settings"):
            Settings.check_access("read")
        with self.assertRaisesRegex(AccessError, r"res\.config\.settings"):
            Settings.create({"retainer_overdraft_policy": "allow"})
        self.assertEqual(self.company.retainer_overdraft_policy, "warn")

    def test_time_logger_cannot_post_manual_credits(self):
        count = self._ledger_count()
        with self.assertRaisesRegex(
            AccessError, r"not allowed to create .*retainer\.ledger\.post"
        ):
            self.env["retainer.ledger.post"].with_user(self.logger).create(
                {
                    "contract_id": self.contract.id,
                    "kind": "credit",
                    "units": 28,
                    "reason": "Free day",
                }
            )
        with self.assertRaisesRegex(AccessError, "Only a retainer manager can do this"):
            self.contract.with_user(self.logger)._post_manual_entry(
                "credit", 28, "Free day"
            )
        self.assertEqual(self._ledger_count(), count)
        self.assertEqual(self.contract.balance_units, 56)
        # The button that opens the wizard is not on the form they see.
        action = self.env.ref("defining_retainer.retainer_ledger_post_action")
        for user, shown in ((self.logger, False), (self.manager, True)):
            views = (
                self.env["retainer.contract"]
                .with_user(user)
                .get_views([(False, "form")])
            )
            arch = etree.fromstring(views["views"]["form"]["arch"])
            with self.subTest(user=user.login):
                self.assertEqual(
                    bool(arch.xpath(f"//button[@name='{action.id}']")), shown
                )

    def test_time_logger_cannot_create_levels(self):
        Level = self.env["retainer.level"].with_context(active_test=False)
        count = Level.search_count([])
        with self.assertRaisesRegex(
            AccessError, r"not allowed to create 'Retainer Support Level'"
        ):
            Level.with_user(self.logger).create({"name": "Gold"})
        self.assertEqual(Level.search_count([]), count)
