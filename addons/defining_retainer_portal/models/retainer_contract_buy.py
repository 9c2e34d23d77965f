from datetime import timedelta

from markupsafe import Markup

from odoo import Command, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.defining_retainer.tools.units import quantity_to_units

from ..tools import topup as topup_tools

# Orders a customer makes on the portal: what the hourly limit counts.
PORTAL_ORIGINS = ("portal_request", "portal_buy")
# Transactions that may still pay an open quotation: a second "Buy" then
# leaves it as it is.
PAYMENT_UNDER_WAY_STATES = ("pending", "authorized", "done")


# One model, one file per concern: this one is the customer buying time on
# the portal.
class RetainerContract(models.Model):
    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === PORTAL PURCHASES: WHAT IS OFFERED === #

    def _portal_buy_products(self):
        """The products a customer of this retainer may buy on the portal:
        none unless its company sells on the portal (portal top-ups "buy"),
        else its saleable retainer products sold on the portal. The portal
        offers purchases exactly when there are some."""
        self.ensure_one()
        if self.company_id.retainer_portal_topup_mode != "buy":
            return self.env["product.product"]
        return (
            self.env["product.product"]
            .with_company(self.company_id)
            .search(
                [
                    ("retainer_portal_published", "=", True),
                    ("retainer_units", ">", 0),
                    ("sale_ok", "=", True),
                    ("company_id", "in", (False, self.company_id.id)),
                ],
                order="retainer_units, id",
            )
        )

    def _portal_buy_units(self, product, quantity):
        """Whole units ``quantity`` of ``product`` (in its own unit of
        measure) credit: what the order line will credit."""
        return quantity_to_units(quantity, product.retainer_units)

    def _portal_buy_max_quantity(self, product):
        """Largest quantity of ``product`` one purchase may buy: the form's
        ``max`` and the server's check."""
        self.ensure_one()
        day_units = self.day_hours * 60 / self.rounding_unit_minutes
        return topup_tools.max_buy_quantity(product.retainer_units, day_units=day_units)

    def _portal_buy_offers(self, partner=None, products=None):
        """What the buy form offers: one dict per product with ``product``,
        ``units`` and ``hours`` credited per unit bought, ``uom`` (its unit
        of measure's name), ``price_subtotal`` and ``price_total`` of one
        unit (without and with taxes, from the customer's pricelist, fiscal
        position and currency, as an order line computes them),
        ``currency`` and ``max_quantity``.

        :param partner: the contact buying (default: the customer).
        :param products: the products offered, when the caller has them
            (default: ``_portal_buy_products``).
        """
        self.ensure_one()
        if products is None:
            products = self._portal_buy_products()
        if not products:
            return []
        # A draft order in memory prices the products exactly as the
        # quotation made by "Buy" will (pricelist, taxes, fiscal position).
        order = (
            self.env["sale.order"]
            .with_company(self.company_id)
            .new(
                {
                    "partner_id": (partner or self.partner_id).id,
                    "company_id": self.company_id.id,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": 1})
                        for product in products
                    ],
                }
            )
        )
        offers = []
        for line in order.order_line:
            product = line.product_id
            units = self._portal_buy_units(product, 1)
            offers.append(
                {
                    "product": product,
                    "units": units,
                    "hours": self._units_to_hours(units),
                    # "per Day", but "each" for a product sold in Units.
                    "uom": (
                        product.uom_id.name
                        if product.uom_id != self.env.ref("uom.product_uom_unit")
                        else False
                    ),
                    "price_subtotal": line.price_subtotal,
                    "price_total": line.price_total,
                    "currency": order.currency_id,
                    "max_quantity": self._portal_buy_max_quantity(product),
                }
            )
        return offers

    def _portal_can_pay_online(self, partner=None):
        """Whether the customer can pay this retainer's company online: a
        payment provider is available to them."""
        self.ensure_one()
        partner = partner or self.partner_id
        # sudo: the customer reads which providers they may pay with, as the
        # sale portal does; nothing is written.
        providers = (
            self.env["payment.provider"]
            .sudo()
            ._get_compatible_providers(
                self.company_id.id,
                partner.id,
                1.0,
                currency_id=(
                    partner.property_product_pricelist.currency_id
                    or self.company_id.currency_id
                ).id,
            )
        )
        return bool(providers)

    # === PORTAL PURCHASES: BUY === #

    def _portal_buy(self, product, quantity, requester=None):
        """Make (or reuse) the quotation of a portal purchase of
        ``quantity`` ``product`` for this retainer, to be paid online.

        The quotation is for the requesting contact (the customer's
        commercial entity is the customer), tops up this retainer, requires
        full payment online and no signature, and is marked sent: the caller
        sends the customer to its portal page to pay. Paid, Odoo confirms it
        and the retainer is credited following the company's credit trigger
        (see ``payment.transaction``). An open quotation of an earlier click
        is reused: updated to the new choice, or left as it is while a
        payment of it is under way.

        Called on the record returned by the portal's access check (sudo).

        :param product: ``product.product`` chosen (untrusted: checked).
        :param int quantity: whole quantity (``None`` if the form's value
            was not a whole number).
        :param requester: ``res.partner`` buying (``None``: the customer).
        :returns: the quotation (``sale.order``).
        :raises UserError: on a refused purchase; nothing is written then.
        """
        self.ensure_one()
        customer = self.partner_id.commercial_partner_id
        if not requester or requester.commercial_partner_id != customer:
            requester = self.partner_id
        self._portal_check_buy(product, quantity, requester)
        self._portal_lock_topups()
        order = self._portal_open_purchase()
        if order:
            if not order.transaction_ids.filtered(
                lambda tx: tx.state in PAYMENT_UNDER_WAY_STATES
            ):
                order.order_line = [Command.clear()] + [
                    Command.create(
                        {"product_id": product.id, "product_uom_qty": quantity}
                    )
                ]
            return order
        self._portal_check_topup_rate()
        order = self._create_topup_quotation(
            quantity,
            product=product,
            partner_id=requester.id,
            retainer_topup_origin="portal_buy",
            require_signature=False,
            require_payment=True,
            prepayment_percent=1.0,
        )
        order.action_quotation_sent()
        units = self._portal_buy_units(product, quantity)
        self.message_post(
            body=Markup("<p>%s</p>")
            % self.env._(
                "%(requester)s started buying %(quantity)s × %(product)s "
                "(%(units)s units) on the portal: %(order)s, to be paid online.",
                requester=requester.display_name,
                quantity=quantity,
                product=product.display_name,
                units=units,
                order=order.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return order

    def _portal_open_purchase(self):
        """The newest portal purchase of this retainer still waiting for
        its payment: a quotation that has not expired."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        return self.env["sale.order"].search(
            [
                ("retainer_id", "=", self.id),
                ("retainer_topup_origin", "=", "portal_buy"),
                ("state", "in", ("draft", "sent")),
                "|",
                ("validity_date", "=", False),
                ("validity_date", ">=", today),
            ],
            order="id desc",
            limit=1,
        )

    def _portal_check_buy(self, product, quantity, requester):
        """Refuse a purchase that must not be made, with a message for the
        customer.

        :raises UserError:
        """
        self.ensure_one()
        self._portal_check_topup_state()
        products = self._portal_buy_products()
        if not products:
            raise UserError(
                self.env._(
                    "Top-ups cannot be bought online for this retainer: "
                    "request one instead."
                )
            )
        if not product or product not in products:
            raise UserError(self.env._("This product cannot be bought on the portal."))
        maximum = self._portal_buy_max_quantity(product)
        if quantity is None or not 1 <= quantity <= maximum:
            raise UserError(
                self.env._(
                    "Choose a whole quantity from 1 to %(maximum)s.",
                    maximum=maximum,
                )
            )
        if not self._portal_can_pay_online(requester):
            raise UserError(
                self.env._(
                    "Online payment is not available: request the top-up "
                    "instead, your account manager will send you a quotation."
                )
            )

    def _portal_check_topup_state(self):
        """Refuse top-ups of a closed or suspended retainer.

        :raises UserError:
        """
        self.ensure_one()
        if self.state == "closed":
            raise UserError(
                self.env._(
                    "This retainer is closed: please contact your account manager."
                )
            )
        if self.state == "suspended":
            raise UserError(
                self.env._(
                    "This retainer is suspended: please contact your account manager."
                )
            )

    def _portal_lock_topups(self):
        """Serialize this retainer's portal purchases and requests, before
        reading what they decide on (its open quotation, how many it made
        in the last hour).

        Two clicks at the same moment would each find no open quotation, or
        room under the hourly limit, and each make an order. A lock alone
        (``SELECT ... FOR NO KEY UPDATE``) is not enough under REPEATABLE
        READ: the click that waited would go on with its old snapshot,
        still without the other's order. Writing the retainer's row makes
        PostgreSQL abort the later of two concurrent clicks with a
        serialization failure, which Odoo retries with a fresh snapshot
        that sees the other's order (as ``sale.order._retainer_lock_customer``
        does for a customer's first retainer).
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE retainer_contract SET write_date = write_date WHERE id = %s",
                self.id,
            )
        )

    def _portal_check_topup_rate(self):
        """Refuse a new portal purchase or request when this retainer made
        the company's hourly limit of them in the last hour.

        :raises UserError:
        """
        self.ensure_one()
        limit = self.company_id.retainer_portal_topup_hourly_limit
        since = fields.Datetime.now() - timedelta(hours=1)
        recent = self.env["sale.order"].search_count(
            [
                ("retainer_id", "=", self.id),
                ("retainer_topup_origin", "in", PORTAL_ORIGINS),
                ("create_date", ">=", since),
            ]
        )
        if recent >= limit:
            raise UserError(
                self.env._(
                    "This retainer already made %(count)s top-up requests or "
                    "purchases in the last hour: please try again later or "
                    "contact your account manager.",
                    count=recent,
                )
            )
