from datetime import timedelta

from lxml import html as lxml_html

from odoo import fields
from odoo.tests import tagged

from ..report.retainer_statement_report import STATEMENT_REPORT
from .common import html_texts
from .test_incident_rounding import IncidentCommon


def _row_texts(document, css_class):
    """Text of each row of the tables of ``css_class``, spaces collapsed."""
    return html_texts(
        document,
        f"//table[contains(@class, '{css_class}')]//tr[td or th][not(ancestor::thead)]",
    )


@tagged("post_install", "-at_install", "defining_retainer")
class TestIncidentUsage(IncidentCommon):
    """What people read of an incident rounded once: its lines (those that
    cost nothing included), its entered and billed time and its units once,
    on the statement as on the portal (which groups with the same helper)."""

    def _statement_document(self, date_from, date_to):
        """The statement of the incident retainer for the period, parsed."""
        return lxml_html.fromstring(
            self.env["ir.actions.report"]._render_qweb_html(
                STATEMENT_REPORT,
                self.incident_contract.ids,
                data={
                    "date_from": fields.Date.to_string(date_from),
                    "date_to": fields.Date.to_string(date_to),
                },
            )[0]
        )

    def _log_incidents(self):
        """0:45 + 0:45 + 0:05 on the task (6 units, the follow-up costs
        none) and two 4-minute calls on the other (1 unit)."""
        lines = [
            self._on(self.task, minutes, name=name)
            for minutes, name in (
                (45, "Call about the mail server"),
                (45, "Remote repair of the mail server"),
                (5, "Follow-up call"),
            )
        ]
        calls = [self._on(self.other_task, 4, name="Printer call") for _i in range(2)]
        return lines, calls

    def test_groups_per_incident_with_free_lines(self):
        lines, _calls = self._log_incidents()
        entries = self._incident_entries()
        groups = entries._retainer_incident_groups()
        by_ref = {group["ref"]: group for group in groups}
        mail = by_ref[f"project.task,{self.task.id}"]
        self.assertEqual(mail["label"], "Mail server down")
        self.assertEqual(mail["scope"], "incident")
        self.assertEqual(mail["units"], -6)
        self.assertAlmostEqual(mail["entered_hours"], 95 / 60)
        self.assertAlmostEqual(mail["billed_hours"], 1.5)
        self.assertEqual(
            [line["name"] for line in mail["lines"]],
            [
                "Call about the mail server",
                "Remote repair of the mail server",
                "Follow-up call",
            ],
        )
        # The follow-up cost nothing: it is listed, inside its incident.
        self.assertEqual(lines[2].retainer_charged_units, 0)
        self.assertAlmostEqual(mail["lines"][2]["hours"], 5 / 60)
        self.assertIsNone(mail["lines"][2]["units"])
        printer = by_ref[f"project.task,{self.other_task.id}"]
        self.assertEqual((printer["units"], len(printer["lines"])), (-1, 2))
        self.assertEqual(len(groups), 2)
        # A period leaves out the lines dated outside it.
        tomorrow = fields.Date.context_today(self.env.user) + timedelta(days=1)
        later = entries._retainer_incident_groups(date_from=tomorrow)
        self.assertEqual([group["lines"] for group in later], [[], []])

    def test_entry_scope_groups_the_debits_of_a_task(self):
        task = self.env["project.task"].create(
            {"name": "Old habits", "project_id": self.project.id}
        )
        for minutes in (45, 5):
            self._log(minutes / 60, task_id=task.id, retainer_contact_type="remote")
        entries = self.env["retainer.ledger.entry"].search(
            [("contract_id", "=", self.contract.id), ("kind", "=", "debit")]
        )
        [group] = [
            group
            for group in entries._retainer_incident_groups()
            if group["ref"] == f"project.task,{task.id}"
        ]
        self.assertEqual(group["scope"], "entry")
        self.assertEqual(group["units"], -4)  # 3 + 1, each rounded alone
        self.assertEqual([line["units"] for line in group["lines"]], [-3, -1])

    def test_statement_shows_usage_per_incident(self):
        self._log_incidents()
        today = fields.Date.context_today(self.env.user)
        date_from = today - timedelta(days=30)
        statement = self.incident_contract._statement_data(date_from, today)
        self.assertEqual(
            [group["label"] for group in statement["incidents"]],
            ["Mail server down", "Printer jammed"],
        )
        # Which block paid, as the movements name it: the opening block.
        block_label = "B1"
        self.assertEqual(statement["incidents"][0]["blocks"], block_label)
        document = self._statement_document(date_from, today)
        rows = _row_texts(document, "o_retainer_statement_incidents")
        self.assertEqual(len(rows), 7, rows)  # 2 incidents, 5 lines
        self.assertEqual(
            rows[0], f"Mail server down 1 h 35 min 1 h 30 min -6 {block_label}"
        )
        self.assertIn("Follow-up call", rows[3])
        self.assertTrue(rows[3].endswith("5 min"), rows[3])
        self.assertEqual(rows[4], f"Printer jammed 8 min 15 min -1 {block_label}")
        # The movements keep the running balance and name their incident.
        movements = _row_texts(document, "o_retainer_statement_lines")
        usage = [row for row in movements if "Incident: Mail server down" in row]
        self.assertEqual(len(usage), 2, movements)
        self.assertTrue(movements[-1].endswith(" 49"), movements[-1])

    def test_statement_lists_an_incident_whose_lines_of_the_period_cost_nothing(
        self,
    ):
        """0:45 + 0:45 last month (6 units), a 0:05 follow-up this period: no
        movement this period, yet the follow-up is listed in its incident
        with 0 units and why."""
        today = fields.Date.context_today(self.env.user)
        before = today - timedelta(days=40)
        for minutes in (45, 45):
            self._on(self.task, minutes, name="Mail server repair", date=before)
        follow_up = self._on(self.task, 5, name="Follow-up call", date=today)
        self.assertEqual(follow_up.retainer_charged_units, 0)
        date_from = today - timedelta(days=10)
        statement = self.incident_contract._statement_data(date_from, today)
        self.assertFalse(
            [line for line, _balance in statement["lines"] if line.kind == "debit"]
        )
        [group] = statement["incidents"]
        self.assertEqual(group["label"], "Mail server down")
        self.assertEqual(group["ref"], f"project.task,{self.task.id}")
        self.assertEqual((group["units"], group["billed_hours"]), (0, 0.0))
        self.assertAlmostEqual(group["entered_hours"], 5 / 60)
        self.assertEqual([line["name"] for line in group["lines"]], ["Follow-up call"])
        self.assertFalse(group["entries"])
        document = self._statement_document(date_from, today)
        rows = _row_texts(document, "o_retainer_statement_incidents")
        self.assertEqual(
            rows[0],
            "Mail server down 5 min 0 min +0 No units this period: already paid "
            "by the incident's earlier rounding",
        )
        self.assertIn("Follow-up call", rows[1])
        self.assertEqual(len(rows), 2, rows)
        # The period of the first lines lists the incident with its units.
        earlier = self.incident_contract._statement_data(
            before - timedelta(days=1), date_from - timedelta(days=1)
        )
        [group] = earlier["incidents"]
        self.assertEqual((group["units"], len(group["lines"])), (-6, 2))

    def test_statement_of_entry_scope_has_no_incident_section(self):
        self._log(0.5)
        today = fields.Date.context_today(self.env.user)
        statement = self.contract._statement_data(today - timedelta(days=30), today)
        self.assertEqual(statement["incidents"], [])
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(STATEMENT_REPORT, self.contract.ids)[0]
            .decode()
        )
        self.assertNotIn("Usage per incident", html)
        self.assertNotIn("o_retainer_statement_line_incident", html)
