import re
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user

from odoo.addons.defining_retainer.tests.common import RetainerFixturesMixin

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

# Realistic usage, cycled to build a demo-like ledger:
# (description, consultant index, contact type, entered hours).
USAGE_SAMPLES = [
    ("Server recovery after power cut", 0, "onsite", 217 / 60),
    ("Password reset for reception", 1, "phone", 3 / 60),
    ("Printer driver roll-out", 2, "remote", 1.5),
    ("Network switch replacement", 0, "onsite", 185 / 60),
    ("Mailbox permissions", 1, "remote", 21 / 60),
    ("Backup health check", 2, "remote", 2.0),
    ("VPN advice", 0, "phone", 0.25),
    ("New starter laptop set-up", 2, "remote", 2.5),
    ("Firewall rule review", 1, "remote", 0.75),
    ("Wi-Fi dead spot survey", 0, "onsite", 1.25),
]


class RetainerPortalCommon(RetainerFixturesMixin, HttpCase):
    """Two customers with a portal user each, an account manager and a
    retainer per customer. Ledger entries are posted directly (no timesheet)
    so large ledgers are cheap to build."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env["retainer.contract"])
        cls.level = cls.env["retainer.level"].create(
            {
                "name": "On-site",
                "allow_phone": True,
                "allow_remote": True,
                "allow_onsite": True,
                "audit_policy": "not_required",
            }
        )
        cls.manager = new_test_user(
            cls.env,
            login="ret_portal_manager",
            name="Morgan Manager",
            groups="base.group_user,defining_retainer.group_retainer_manager",
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Northwind Dental Group", "is_company": True}
        )
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Southfield Architects", "is_company": True}
        )
        cls.portal_user = cls._create_portal_user(
            "ret_portal_owner", "Olivia Owner", cls.customer
        )
        cls.other_portal_user = cls._create_portal_user(
            "ret_portal_other", "Oscar Other", cls.other_customer
        )
        cls.consultants = cls.env["hr.employee"].create(
            [{"name": name} for name in ("Alice Martin", "Ben Carter", "Chloe Dubois")]
        )
        cls.retainer = cls._create_retainer(cls.customer)
        cls.other_retainer = cls._create_retainer(cls.other_customer)
        cls._post_credit(cls.retainer, 84, "Opening block of 3 days", days_ago=100)
        cls._post_credit(
            cls.other_retainer, 28, "Secret block of Southfield", days_ago=100
        )
        cls._post_usage(cls.retainer, 6, first_days_ago=60, step_days=9)
        cls._post_usage(
            cls.other_retainer,
            1,
            first_days_ago=10,
            step_days=1,
            name="Southfield confidential migration",
        )

    # === FIXTURE HELPERS === #

    @classmethod
    def _create_portal_user(cls, login, name, company_partner):
        user = new_test_user(
            cls.env, login=login, name=name, groups="base.group_portal"
        )
        user.partner_id.parent_id = company_partner
        return user

    @classmethod
    def _create_retainer(cls, partner, **vals):
        return cls._create_contract(
            partner, cls.level, **({"user_id": cls.manager.id} | vals)
        )

    @classmethod
    def _post_credit(cls, retainer, units, reason, days_ago=0):
        return cls.env["retainer.ledger.entry"]._post(
            [
                {
                    "contract_id": retainer.id,
                    "kind": "credit",
                    "units": units,
                    "reason": reason,
                    "date": cls.today - timedelta(days=days_ago),
                }
            ]
        )

    @classmethod
    def _usage_vals(cls, retainer, index, date, name=None):
        description, consultant, contact_type, hours = USAGE_SAMPLES[
            index % len(USAGE_SAMPLES)
        ]
        units = retainer._retainer_units_for(hours, contact_type)
        return {
            "contract_id": retainer.id,
            "kind": "debit",
            "units": -units,
            "date": date,
            "name": name or description,
            "employee_id": cls.consultants[consultant].id,
            "contact_type": contact_type,
            "entered_hours": hours,
        }

    @classmethod
    def _post_usage(cls, retainer, count, first_days_ago, step_days, name=None):
        """Post ``count`` debits, the first ``first_days_ago`` days ago and
        each next one ``step_days`` later, in one batch."""
        return cls.env["retainer.ledger.entry"]._post(
            [
                cls._usage_vals(
                    retainer,
                    index,
                    cls.today - timedelta(days=first_days_ago - index * step_days),
                    name=name,
                )
                for index in range(count)
            ]
        )

    # === HTTP HELPERS === #

    def _csrf_token(self, url):
        """CSRF token of the current session, read from the form on ``url``."""
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        match = CSRF_RE.search(response.text)
        self.assertTrue(match, "the page has no CSRF token")
        return match.group(1)

    def _detail_url(self, retainer, suffix="", **params):
        url = f"/my/retainers/{retainer.id}{suffix}"
        if params:
            url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
        return url

    def assertRefused(self, response, *secrets):
        """The response is a redirect away from the document (to /my or the
        login page) and shows none of ``secrets``."""
        self.assertEqual(response.status_code, 200)
        self.assertRegex(response.url, r"/(my|web/login)(\?|$)")
        for secret in secrets:
            self.assertNotIn(secret, response.text)
