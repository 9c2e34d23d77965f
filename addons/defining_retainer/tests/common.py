from contextlib import contextmanager
from datetime import timedelta

from lxml import html

from odoo.tests import TransactionCase, new_test_user


def html_texts(page, xpath):
    """Whitespace-normalised text of each element that ``xpath`` selects in
    ``page`` (HTML text, or a parsed element)."""
    tree = html.fromstring(page) if isinstance(page, str | bytes) else page
    return [" ".join(element.text_content().split()) for element in tree.xpath(xpath)]


class RaisesRegexMixin:
    """``assertRaisesRegex`` as Odoo's ``assertRaises``: the block is rolled
    back to a savepoint, as the request would be, so a test can check that
    nothing was written; and the message is checked."""

    @contextmanager
    def assertRaisesRegex(self, exception, regex):
        with self.assertRaises(exception) as caught:
            yield caught
        self.assertRegex(str(caught.exception), regex)


class RetainerFixturesMixin(RaisesRegexMixin):
    """What the tests of both addons build retainers with: contracts with an
    opening block, projects on them, and the ledger checks every refusal
    test makes. Mixed into TransactionCase, AccountTestInvoicingCommon and
    the portal's HttpCase bases."""

    @classmethod
    def _create_contract(cls, partner, level, units=0, **vals):
        """A retainer of ``partner`` at ``level``, with an opening block of
        ``units`` (a manager's credit) when given."""
        contract = cls.env["retainer.contract"].create(
            {"partner_id": partner.id, "level_id": level.id} | vals
        )
        if units:
            contract._post_manual_entry("credit", units, "Opening block")
        return contract

    @classmethod
    def _create_project(cls, contract):
        """A project whose timesheets consume ``contract``."""
        return cls.env["project.project"].create(
            {
                "name": f"Support {contract.partner_id.name}",
                "partner_id": contract.partner_id.id,
                "allow_timesheets": True,
                "retainer_id": contract.id,
                "company_id": contract.company_id.id,
            }
        )

    @classmethod
    def _insert_work(cls, contract, start, size, days):
        """The history of a large ledger: ``size`` entries of work on
        ``contract`` spread over ``days`` days from ``start`` (1 to 8 units
        each), inserted below the posting path (no replay per entry), one in
        twenty reversed; return them."""
        work = cls.env["retainer.ledger.entry"]._insert_entries(
            [
                {
                    "contract_id": contract.id,
                    "kind": "debit",
                    "units": -(1 + index % 8),
                    "date": start + timedelta(days=index * days // size),
                    "name": f"Work {index}",
                }
                for index in range(size)
            ]
        )
        work[::20]._reverse(reason="Corrected")
        return work

    def _ledger_count(self):
        return self.env["retainer.ledger.entry"].search_count([])


class RetainerCommon(RetainerFixturesMixin, TransactionCase):
    """A company with one customer, a retainer of 2 days (56 units) on a
    project, a consultant who logs time and a retainer manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.company.write(
            {
                "retainer_rounding_method": "grace",
                "retainer_rounding_unit_minutes": 15,
                "retainer_rounding_grace_minutes": 5,
                "retainer_rounding_min_units": 1,
                "retainer_day_hours": 7.0,
                "retainer_overdraft_policy": "warn",
                "retainer_audit_required": False,
                # Customer alerts are off unless a test turns them on
                # (tests/test_notifications.py).
                "retainer_low_balance_units": 0,
            }
        )
        Level = cls.env["retainer.level"]
        cls.level_phone = Level.create({"name": "Test Telephone", "allow_phone": True})
        cls.level_onsite = Level.create(
            {
                "name": "Test On-site",
                "allow_phone": True,
                "allow_remote": True,
                "allow_onsite": True,
                "onsite_multiplier": 1.5,
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Quarter Hour Ltd", "is_company": True}
        )
        cls.customer_contact = cls.env["res.partner"].create(
            {"name": "Quinn Contact", "parent_id": cls.customer.id}
        )
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Elsewhere plc", "is_company": True}
        )
        cls.consultant = new_test_user(
            cls.env,
            login="retainer_consultant",
            groups="hr_timesheet.group_hr_timesheet_user",
            name="Casey Consultant",
        )
        cls.manager = new_test_user(
            cls.env,
            login="retainer_manager",
            groups="defining_retainer.group_retainer_manager,"
            "hr_timesheet.group_hr_timesheet_approver",
            name="Morgan Manager",
        )
        cls.employee = cls.env["hr.employee"].create(
            {"name": "Casey Consultant", "user_id": cls.consultant.id}
        )
        cls.manager_employee = cls.env["hr.employee"].create(
            {"name": "Morgan Manager", "user_id": cls.manager.id}
        )
        cls.contract = cls._create_contract(cls.customer, cls.level_onsite, units=56)
        cls.project = cls._create_project(cls.contract)
        cls.plain_project = cls.env["project.project"].create(
            {"name": "Internal work", "allow_timesheets": True}
        )

    @classmethod
    def _create_contract(cls, partner, level, units=0, **vals):
        return super()._create_contract(
            partner, level, units, **({"user_id": cls.manager.id} | vals)
        )

    def _user_of_other_company(self, company_name, login):
        """A new company and a timesheet user who works in it alone."""
        company = self.env["res.company"].create({"name": company_name})
        user = new_test_user(
            self.env,
            login=login,
            groups="hr_timesheet.group_hr_timesheet_user",
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
        )
        return company, user

    def _log(self, hours, project=None, user=None, **vals):
        """Create a timesheet as ``user`` (the consultant by default)."""
        user = user or self.consultant
        employee = self.env["hr.employee"].search([("user_id", "=", user.id)], limit=1)
        return (
            self.env["account.analytic.line"]
            .with_user(user)
            .create(
                {
                    "project_id": (project or self.project).id,
                    "name": "Support work",
                    "unit_amount": hours,
                    "employee_id": employee.id,
                }
                | vals
            )
        )

    def _sold_by_the_hour(self, project):
        """Sell ``project``'s time by the hour on a confirmed order line."""
        product = self.env["product.product"].create(
            {
                "name": "Support hour",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "uom_id": self.env.ref("uom.product_uom_hour").id,
                "uom_po_id": self.env.ref("uom.product_uom_hour").id,
                "list_price": 100,
            }
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": 10})
                ],
            }
        )
        order.action_confirm()
        project.write({"allow_billable": True, "sale_line_id": order.order_line.id})
        return order.order_line

    @staticmethod
    def hm(hours, minutes=0):
        """Hours as a person types them: 3h37 -> 3.6166..."""
        return hours + minutes / 60
