from odoo.tests import tagged

from odoo.addons.defining_retainer.tests.common_field_access import FieldAccessMixin
from odoo.addons.defining_retainer.tests.common_sale import RetainerSaleCommon


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalFieldAccess(FieldAccessMixin, RetainerSaleCommon):
    """The portal addon's fields (what is sold on the portal, its top-up
    mode and limit) put to every role, as the core addon's are."""

    field_access_module = "defining_retainer_portal"
    allow_inherited_tests_method = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        other_company = cls.env["res.company"].create({"name": "Portal Access Co B"})
        cls._setup_field_access_roles(cls.company, other_company)
        cls.field_access_samples = {
            "res.company": cls.company,
            "product.template": cls.product_day.product_tmpl_id,
        }
        # Odoo's rules: a settings administrator manages every company, and
        # a product shared by the companies is edited from any.
        cls.field_access_writers = {
            "res.company": frozenset({"admin", "other_company"}),
            "product.template": frozenset({"admin", "other_company"}),
        }
        cls.field_access_reviewed = {}
        cls.field_access_create_vals = {}
