from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import RetainerCommon

# Company defaults no retainer could be created with, and the message of the
# retainer's own check.
INVALID_POLICIES = (
    ({"retainer_rounding_unit_minutes": 0}, "A unit must last at least a minute"),
    ({"retainer_rounding_unit_minutes": -15}, "A unit must last at least a minute"),
    ({"retainer_rounding_grace_minutes": 15}, "The grace must be at least 0 and"),
    ({"retainer_rounding_grace_minutes": 20}, "The grace must be at least 0 and"),
    ({"retainer_rounding_grace_minutes": -1}, "The grace must be at least 0 and"),
    (
        {"retainer_rounding_unit_minutes": 5},
        "The grace must be at least 0 and",
    ),
    ({"retainer_rounding_min_units": -1}, "minimum units per entry cannot be neg"),
    ({"retainer_day_hours": 0}, "A retainer day lasts more than 0 and at most 24"),
    ({"retainer_day_hours": -7}, "A retainer day lasts more than 0 and at most 24"),
    ({"retainer_day_hours": 30}, "A retainer day lasts more than 0 and at most 24"),
)


@tagged("post_install", "-at_install", "defining_retainer")
class TestCompanySettings(RetainerCommon):
    """The company's rounding defaults and retainer day are refused as a
    retainer's own policy is, whether set on the Settings page or written
    on the company: with the same message, and nothing is written."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = new_test_user(
            cls.env,
            login="retainer_settings_admin",
            groups="base.group_user,base.group_system",
        )

    def _policy(self):
        self.env.invalidate_all()
        return self.company.read(
            [
                "retainer_rounding_unit_minutes",
                "retainer_rounding_grace_minutes",
                "retainer_rounding_min_units",
                "retainer_day_hours",
            ]
        )

    def test_invalid_policy_refused_in_settings(self):
        before = self._policy()
        Settings = self.env["res.config.settings"].with_user(self.admin)
        for vals, message in INVALID_POLICIES:
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(ValidationError, message),
            ):
                Settings.create(dict(vals)).execute()
            self.assertEqual(self._policy(), before)

    def test_invalid_policy_refused_on_company(self):
        before = self._policy()
        company = self.company.with_user(self.admin)
        for vals, message in INVALID_POLICIES:
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(ValidationError, message),
            ):
                company.write(vals)
            self.assertEqual(self._policy(), before)

    def test_same_message_as_the_retainer(self):
        """Each invalid default is refused with the message a retainer with
        that policy gets."""
        Contract = self.env["retainer.contract"]
        base = {"partner_id": self.customer.id, "level_id": self.level_phone.id}
        for vals, message in INVALID_POLICIES:
            contract_vals = {
                key.replace("retainer_", "", 1): value for key, value in vals.items()
            }
            with self.subTest(vals=vals):
                with self.assertRaises(ValidationError) as company_error:
                    self.company.write(vals)
                with self.assertRaises(ValidationError) as contract_error:
                    Contract.create(base | contract_vals)
                self.assertRegex(str(company_error.exception), message)
                self.assertEqual(
                    str(company_error.exception), str(contract_error.exception)
                )

    def test_settings_need_settings_rights(self):
        """A retainer manager does not save the company's settings, valid or
        not: refused as settings, and the company keeps its values."""
        before = self._policy()
        Settings = self.env["res.config.settings"].with_user(self.manager)
        for vals in ({"retainer_rounding_unit_minutes": 30}, INVALID_POLICIES[0][0]):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(AccessError, r"res\.config\.settings"),
            ):
                Settings.create(dict(vals))
        self.assertEqual(self._policy(), before)

    def test_policy_saved_together(self):
        """A shorter unit with a shorter grace is one change: saved on the
        Settings page at once, it is accepted whatever the order."""
        Settings = self.env["res.config.settings"].with_user(self.admin)
        Settings.create(
            {
                "retainer_rounding_unit_minutes": 5,
                "retainer_rounding_grace_minutes": 2,
            }
        ).execute()
        Settings.create(
            {
                "retainer_rounding_grace_minutes": 25,
                "retainer_rounding_unit_minutes": 30,
            }
        ).execute()
        self.assertEqual(
            (
                self.company.retainer_rounding_unit_minutes,
                self.company.retainer_rounding_grace_minutes,
            ),
            (30, 25),
        )

    def test_valid_limits_accepted_and_used(self):
        settings = self.env["res.config.settings"].with_user(self.admin)
        settings.create(
            {
                "retainer_rounding_unit_minutes": 1,
                "retainer_rounding_grace_minutes": 0,
                "retainer_rounding_min_units": 0,
                "retainer_day_hours": 24.0,
            }
        ).execute()
        self.company.write(
            {
                "retainer_rounding_unit_minutes": 30,
                "retainer_rounding_grace_minutes": 29,
            }
        )
        contract = self._create_contract(self.customer, self.level_phone)
        self.assertRecordValues(
            contract,
            [
                {
                    "rounding_unit_minutes": 30,
                    "rounding_grace_minutes": 29,
                    "rounding_min_units": 0,
                    "day_hours": 24.0,
                }
            ],
        )
