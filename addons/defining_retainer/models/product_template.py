from odoo import api, fields, models
from odoo.exceptions import ValidationError

# What a retainer product must be: a plain service invoiced on the ordered
# quantity that creates no project or task and whose order line is not a
# sale_timesheet "prepaid" line (its time is counted by the retainer).
RETAINER_PRODUCT_VALUES = {
    "type": "service",
    "service_tracking": "no",
    "invoice_policy": "order",
    "service_type": "manual",
}


class ProductTemplate(models.Model):
    _inherit = "product.template"

    retainer_units = fields.Integer(
        help="Units credited to the customer's retainer per unit of measure "
        "of the product (a 7-hour day of 15-minute units is 28). Sold in "
        "another unit of measure, Days count as the retainer's own day, not "
        "Odoo's 8-hour Day. 0: not a retainer product.",
    )
    retainer_validity_months = fields.Integer(
        string="Retainer validity (months)",
        help="Units sold with this product expire this many months after "
        "they are credited. 0: they never expire.",
    )
    retainer_level_id = fields.Many2one(
        "retainer.level",
        string="Retainer level",
        help="Level of the retainer created when a customer without one buys "
        "this product. Empty: the company's default level.",
    )

    # === ONCHANGE METHODS === #

    @api.onchange("retainer_units", "service_policy", "type")
    def _onchange_retainer_units(self):
        for product in self.filtered(lambda p: p.retainer_units > 0):
            product.update(RETAINER_PRODUCT_VALUES)

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "retainer_units",
        "type",
        "service_tracking",
        "invoice_policy",
        "service_type",
        "uom_id",
    )
    def _check_retainer_units(self):
        for product in self:
            if product.retainer_units < 0:
                raise ValidationError(
                    self.env._(
                        "Product %(product)s cannot credit a negative number of "
                        "retainer units (0 means it is not a retainer product).",
                        product=product.display_name,
                    )
                )
            if product.retainer_units and any(
                product[fname] != value
                for fname, value in RETAINER_PRODUCT_VALUES.items()
            ):
                raise ValidationError(
                    self.env._(
                        "Retainer product %(product)s must be a service invoiced "
                        "on ordered quantities that creates no project or task "
                        "and is not tracked by timesheets.",
                        product=product.display_name,
                    )
                )
            if product.retainer_units:
                # Sold in time or in packs, never in kilograms (only the
                # category matters here, not the day length).
                product.uom_id._retainer_size(
                    self.env.company.retainer_day_hours, product
                )

    @api.constrains("retainer_validity_months")
    def _check_retainer_validity_months(self):
        for product in self:
            if product.retainer_validity_months < 0:
                raise ValidationError(
                    self.env._(
                        "The retainer validity of %(product)s cannot be negative "
                        "(0 means the units never expire).",
                        product=product.display_name,
                    )
                )

    # === BUSINESS METHODS === #

    @api.model
    def _retainer_demo_set_uk_vat(self):
        """Demo data: put UK standard-rate VAT on the retainer products of UK
        companies, when a UK localisation provides it. Does nothing
        otherwise, so the addon does not depend on l10n_uk."""
        products = self.search([("retainer_units", ">", 0)]) | self.env.ref(
            "defining_retainer.product_retainer_overage_product_template",
            raise_if_not_found=False,
        )
        uk = self.env.ref("base.uk")
        companies = self.env["res.company"].search(
            [("partner_id.country_id", "=", uk.id)]
        )
        for company in companies:
            tax = self.env["account.tax"].search(
                [
                    ("company_id", "=", company.id),
                    ("type_tax_use", "=", "sale"),
                    ("amount_type", "=", "percent"),
                    ("amount", "=", 20.0),
                    ("price_include", "=", False),
                    ("country_id", "=", uk.id),
                ],
                limit=1,
            )
            if tax:
                products.with_company(company).write({"taxes_id": [(4, tax.id)]})
