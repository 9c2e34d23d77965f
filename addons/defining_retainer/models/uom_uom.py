from odoo import models
from odoo.exceptions import ValidationError

from ..tools.units import uom_hours


class UomUom(models.Model):
    _inherit = "uom.uom"

    def _retainer_size(self, day_hours, product):
        """Return the size of one of this unit of measure when counting
        retainer units (see ``tools/units.py``): for a Working Time unit,
        its length in hours on a retainer whose day lasts ``day_hours``
        hours (a Day is ``day_hours``, an Hour is 1); for a count unit
        (Units, Dozens), its number of Units.

        :param float day_hours: hours in one retainer day.
        :param product: the product (variant or template) sold in this
            unit, named in the error.
        :raises ValidationError: the unit measures anything else (weight,
            volume, ...).
        """
        self.ensure_one()
        # Ids from the cached xmlid lookup: env.ref() would query each time,
        # and this runs for every line of every order synced.
        xmlid_to_id = self.env["ir.model.data"]._xmlid_to_res_id
        category = self.category_id
        if category.id == xmlid_to_id("uom.uom_categ_wtime"):
            odoo_day = self.browse(xmlid_to_id("uom.product_uom_day"))
            odoo_hour = self.browse(xmlid_to_id("uom.product_uom_hour"))
            return uom_hours(
                odoo_day.factor / self.factor,
                day_hours=day_hours,
                odoo_day_hours=odoo_hour.factor / odoo_day.factor,
            )
        if category.id == xmlid_to_id("uom.product_uom_categ_unit"):
            retainer_uoms = {
                xmlid_to_id(f"defining_retainer.uom_retainer_{name}")
                for name in ("day", "hour", "pack")
            }
            # A retainer day and a retainer hour both count as one: a
            # product sold in one cannot be sold in the other.
            if self.id in retainer_uoms and self != product.uom_id:
                raise ValidationError(
                    self.env._(
                        "%(product)s is sold in %(product_uom)s, not in %(uom)s.",
                        product=product.display_name,
                        product_uom=product.uom_id.name,
                        uom=self.name,
                    )
                )
            return self.browse(xmlid_to_id("uom.product_uom_unit")).factor / self.factor
        raise ValidationError(
            self.env._(
                "Retainer units are counted in time or in packs: %(product)s "
                "cannot be sold in %(uom)s (%(category)s). Use a unit of the "
                "Working Time category (Hours, Days) or of the Unit category.",
                product=product.display_name,
                uom=self.name,
                category=category.name,
            )
        )
