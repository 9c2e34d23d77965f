from lxml import html as lxml_html

from odoo.tests import tagged

from odoo.addons.defining_retainer.tests.common import html_texts

from .common import RetainerPortalCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalIncidents(RetainerPortalCommon):
    """A retainer rounding each incident once shows its usage per incident
    on the portal: the incident's name, its lines (those that cost no unit
    included), its entered and billed time and its units once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.incident_retainer = cls._create_retainer(
            cls.customer, rounding_scope="incident"
        )
        cls._post_credit(cls.incident_retainer, 200, "Incident block", days_ago=5)
        cls.project = cls._create_project(cls.incident_retainer)
        cls.mail_task = cls._task("Mail server down")
        cls._line(cls.mail_task, 45, "Call about the mail server")
        cls._line(cls.mail_task, 45, "Remote repair of the mail server")
        cls.follow_up = cls._line(cls.mail_task, 5, "Follow-up call")

    @classmethod
    def _task(cls, name, project=None):
        return cls.env["project.task"].create(
            {"name": name, "project_id": (project or cls.project).id}
        )

    @classmethod
    def _line(cls, task, minutes, name):
        return cls.env["account.analytic.line"].create(
            {
                "project_id": task.project_id.id,
                "task_id": task.id,
                "employee_id": cls.consultants[0].id,
                "name": name,
                "unit_amount": minutes / 60,
                "date": cls.today,
                "retainer_contact_type": "remote",
            }
        )

    def _document(self, url):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        return lxml_html.fromstring(response.text)

    def test_usage_per_incident_by_default(self):
        self.assertEqual(self.follow_up.retainer_charged_units, 0)
        self.authenticate(self.portal_user.login, self.portal_user.login)
        document = self._document(self._detail_url(self.incident_retainer))
        [incident] = document.xpath("//tbody[contains(@class, 'o_retainer_incident ')]")
        self.assertEqual(
            incident.get("data-incident"), f"project.task,{self.mail_task.id}"
        )
        [header] = html_texts(incident, ".//tr[contains(@class, 'header')]")
        self.assertEqual(
            header,
            "Mail server down (rounded once: 3 entries) 1 h 35 min 1 h 30 min -6",
        )
        lines = html_texts(incident, ".//tr[contains(@class, 'incident_line')]")
        self.assertEqual(len(lines), 3, lines)
        # The follow-up cost nothing: it shows inside its incident, with its
        # time, never as free work.
        self.assertIn("Follow-up call", lines[2])
        self.assertIn("5 min", lines[2])
        self.assertTrue(lines[2].endswith("in the incident"), lines[2])
        self.assertNotIn("+0", lines[2])
        # The top-up is not usage; the select offers the grouping.
        self.assertFalse(document.xpath("//tbody[contains(@class, 'incident_none')]"))
        self.assertEqual(
            document.xpath("//select[@name='groupby']/option[@selected]/@value"),
            ["incident"],
        )

    def test_flat_list_on_request_and_entry_scope_retainers(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        document = self._document(
            self._detail_url(self.incident_retainer, groupby="none")
        )
        self.assertFalse(
            document.xpath("//tbody[contains(@class, 'o_retainer_incident')]")
        )
        # The flat list shows the ledger: two debits, the follow-up has none.
        rows = html_texts(document, "//tr[contains(@class, 'o_retainer_usage_row')]")
        self.assertEqual(len(rows), 2, rows)
        # A retainer rounding each entry lists its entries as before; grouped
        # by incident, each entry without incident stays a row of its own.
        flat = self._document(self._detail_url(self.retainer))
        self.assertFalse(flat.xpath("//tbody[contains(@class, 'o_retainer_incident')]"))
        grouped = self._document(self._detail_url(self.retainer, groupby="incident"))
        self.assertEqual(
            len(grouped.xpath("//tbody[contains(@class, 'o_retainer_incident_none')]")),
            6,
        )

    def test_another_customer_sees_no_incident(self):
        self.authenticate(self.other_portal_user.login, self.other_portal_user.login)
        response = self.url_open(self._detail_url(self.incident_retainer))
        self.assertRefused(response, "Mail server down", "Follow-up call")

    def test_incident_page_costs_the_same_queries_for_more_incidents(self):
        small = self._create_retainer(self.customer, rounding_scope="incident")
        large = self._create_retainer(self.customer, rounding_scope="incident")
        for retainer, count in ((small, 2), (large, 15)):
            self._post_credit(retainer, 500, "Block", days_ago=5)
            project = self._create_project(retainer)
            for index in range(count):
                task = self._task(f"Incident {index}", project=project)
                for minutes in (20, 25, 4):
                    self._line(task, minutes, f"Work {index}")
        self.authenticate(self.portal_user.login, self.portal_user.login)
        counts = []
        for retainer in (small, large):
            url = self._detail_url(retainer)
            self.url_open(url)  # warm the caches
            before = self.cr.sql_log_count
            document = self._document(url)
            counts.append(self.cr.sql_log_count - before)
            self.assertTrue(
                document.xpath("//tr[contains(@class, 'o_retainer_incident_header')]")
            )
        self.assertEqual(counts[0], counts[1])
