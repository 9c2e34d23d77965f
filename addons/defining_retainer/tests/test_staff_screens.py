"""What staff read on their screens: durations as people write them, the
ledger as an accountant reads it, urgency, short labels."""

import ast
import logging
from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.tests import tagged

from .common import RetainerCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestStaffScreens(RetainerCommon):
    def _arch(self, model, view_type, xmlid=None):
        view_id = self.env.ref(xmlid).id if xmlid else False
        views = self.env[model].get_views([(view_id, view_type)])
        return etree.fromstring(views["views"][view_type]["arch"])

    def test_views_show_no_element_its_users_cannot_read(self):
        """Every backend view of the retainer addons validates without an
        access-rights inconsistency: with all addons loaded (customers may
        read retainers on the portal), an element whose visibility depends
        on a staff-only field is itself staff-only. Odoo only warns about it
        on an update, which these views were silently doing."""
        views = self.env["ir.ui.view"].search(
            [
                ("model", "like", "retainer"),
                ("type", "!=", "qweb"),
                ("inherit_id", "=", False),
            ]
        )
        self.assertTrue(views.filtered(lambda v: v.model == "retainer.contract"))
        with self.assertLogs("odoo.addons.base.models.ir_ui_view", "WARNING") as logs:
            views._check_xml()
            # assertLogs needs one record: this one says validation ended.
            logging.getLogger("odoo.addons.base.models.ir_ui_view").warning("checked")
        self.assertEqual([record.getMessage() for record in logs.records], ["checked"])

    def test_qweb_duration_widget(self):
        """The portal, PDF and emails write durations for people."""
        Widget = self.env["ir.qweb.field.retainer_duration"]
        self.assertEqual(Widget.value_to_html(22.75, {}), "22 h 45 min")
        self.assertEqual(Widget.value_to_html(0.95, {}), "57 min")
        self.assertEqual(Widget.value_to_html(False, {}), "0 min")
        self.assertEqual(Widget.value_to_html(14.0, {"day_hours": 7}), "14 h (2 days)")
        self.assertEqual(Widget.value_to_html(7.0, {"day_hours": 7}), "7 h (1 day)")
        self.assertEqual(Widget.value_to_html(0.5, {"day_hours": 7}), "30 min")
        html = self.env["ir.qweb"]._render(
            etree.fromstring(
                "<t t-name='x'><span t-out='hours' "
                "t-options=\"{'widget': 'retainer_duration'}\"/></t>"
            ),
            {"hours": 1.5},
        )
        self.assertIn(">1 h 30 min</span>", str(html))

    def test_messages_say_durations_not_clock_times(self):
        self.assertEqual(self.contract._format_units(6), "6 units (1 h 30 min)")
        self.assertEqual(self.contract._format_units(-4), "-4 units (-1 h)")

    def test_float_time_only_where_staff_type_durations(self):
        """No backend view of the addon shows a computed duration as a
        clock time; day lengths are typed as hours."""
        views = self.env["ir.ui.view"].browse(
            self.env["ir.model.data"]
            .search(
                [("module", "=", "defining_retainer"), ("model", "=", "ir.ui.view")]
            )
            .mapped("res_id")
        )
        offenders = [
            view.xml_id for view in views if "float_time" in (view.arch_db or "")
        ]
        self.assertEqual(offenders, [])

    def test_ledger_reads_like_a_ledger(self):
        """Signed time next to signed units, and the balance after each
        entry in date order (a back-dated debit comes before the credit
        posted later)."""
        today = fields.Date.context_today(self.contract)
        self._log(1.0, name="Early work", date=today - timedelta(days=10))
        self._log(0.5, name="Today's work", date=today)
        entries = self.contract.ledger_entry_ids.sorted(lambda e: (e.date, e.id))
        self.assertEqual(entries.mapped("units"), [-4, 56, -2])
        self.assertEqual(entries.mapped("balance_after"), [-4, 52, 50])
        self.assertEqual(entries.mapped("signed_hours"), [-1.0, 14.0, -0.5])
        tree = self._arch("retainer.ledger.entry", "list")
        names = [node.get("name") for node in tree.xpath("//field")]
        self.assertEqual(
            names[names.index("signed_hours") : names.index("balance_after") + 1],
            ["signed_hours", "units", "balance_after"],
        )
        entered = tree.xpath("//field[@name='entered_hours']")[0]
        self.assertEqual(entered.get("invisible"), "effective_kind != 'debit'")

    def test_analyses_name_the_customer(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "defining_retainer.retainer_ledger_entry_action_analysis"
        )
        context = ast.literal_eval(action["context"] or "{}")
        self.assertTrue(context.get("retainer_show_partner"))
        contract = self.contract.with_context(retainer_show_partner=True)
        self.assertEqual(
            contract.display_name, f"{self.contract.name} · {self.customer.name}"
        )
        self.assertEqual(self.contract.display_name, self.contract.name)
        groups = (
            self.env["retainer.ledger.entry"]
            .with_context(retainer_show_partner=True)
            .read_group(
                [("contract_id", "=", self.contract.id)], ["units"], ["contract_id"]
            )
        )
        self.assertIn(self.customer.name, groups[0]["contract_id"][1])

    def test_running_out_says_why_there_is_no_date(self):
        """No "0 days left" for a retainer without recent usage, and no
        "Forecast" badge repeated on every row that has a date."""
        tree = self._arch("retainer.forecast.report", "list")
        for fname in ("days_left", "depletion_date"):
            node = tree.xpath(f"//field[@name='{fname}']")[0]
            self.assertEqual(node.get("invisible"), "status != 'forecast'")
        status = tree.xpath("//field[@name='status']")[0]
        self.assertEqual(status.get("invisible"), "status == 'forecast'")
        labels = dict(
            self.env["retainer.forecast.report"]
            ._fields["status"]
            ._description_selection(self.env)
        )
        self.assertEqual(labels["no_usage"], "No recent usage")

    def test_retainer_list_and_kanban_show_urgency(self):
        tree = self._arch("retainer.contract", "list")
        columns = ("urgency_forecast_date", "urgency_expiring_units")
        for fname in columns:
            self.assertTrue(tree.xpath(f"//field[@name='{fname}']"), fname)
        described = self.env["retainer.contract"].fields_get(
            list(columns), ["string", "sortable"]
        )
        self.assertEqual(described["urgency_forecast_date"]["string"], "Runs out")
        self.assertEqual(
            described["urgency_expiring_units"]["string"], "Expiring (30 days)"
        )
        self.assertTrue(all(described[fname]["sortable"] for fname in columns))
        kanban = etree.tostring(self._arch("retainer.contract", "kanban")).decode()
        self.assertIn("Used or expired, of purchased", kanban)
        self.assertIn("units expire", kanban)
        self.assertIn("Runs out", kanban)
        self.assertIn("No recent usage", kanban)

    def test_deferred_revenue_report_opens_computed(self):
        self.env.user.groups_id |= self.env.ref("account.group_account_invoice")
        menu = self.env.ref("defining_retainer.retainer_deferred_revenue_report_menu")
        self.assertEqual(menu.action._name, "ir.actions.server")
        action = menu.action.run()
        self.assertEqual(action["res_model"], "retainer.deferred.revenue.report")
        self.assertEqual(action["name"], "Deferred retainer revenue")
        report = self.env["retainer.deferred.revenue.report"].browse(action["res_id"])
        self.assertTrue(report.exists())
        self.assertTrue(report.date)
        self.assertTrue(report.display_name.startswith("Deferred revenue at "))
        self.assertNotIn("retainer.deferred", report.display_name)

    def test_short_setting_labels(self):
        settings = self.env["res.config.settings"].fields_get(
            [
                "retainer_rounding_unit_minutes",
                "retainer_day_hours",
                "retainer_topup_document",
            ],
            ["string"],
        )
        self.assertEqual(settings["retainer_rounding_unit_minutes"]["string"], "Unit")
        self.assertEqual(settings["retainer_day_hours"]["string"], "Day length")
        self.assertEqual(
            settings["retainer_topup_document"]["string"], "Top-up document"
        )
        self.assertEqual(
            self.env["ir.model"]._get("retainer.contract").name, "Retainer"
        )
        arch = etree.tostring(self._arch("product.template", "form")).decode()
        self.assertIn("0 = never expires", arch)
