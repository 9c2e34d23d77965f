from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ProductTemplate(models.Model):
    _inherit = "product.template"

    retainer_portal_published = fields.Boolean(
        string="Sold on the portal",
        help="Customers may buy this retainer product themselves on the "
        "portal and pay it online (when the company's portal top-ups are set "
        "to buy).",
    )

    @api.constrains("retainer_portal_published", "retainer_units")
    def _check_retainer_portal_published(self):
        for product in self:
            if product.retainer_portal_published and product.retainer_units <= 0:
                raise ValidationError(
                    self.env._(
                        "Only retainer products can be sold on the portal: "
                        "%(product)s credits no retainer units.",
                        product=product.display_name,
                    )
                )
