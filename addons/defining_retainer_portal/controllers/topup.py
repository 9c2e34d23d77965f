from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request

from ..tools.params import parse_id, parse_text
from ..tools.topup import UNIT_DAY, parse_quantity, parse_whole_quantity
from .portal import RetainerPortal

TOPUP_SESSION_KEY = "defining_retainer_portal_topup"


class RetainerPortalTopup(RetainerPortal):
    """Top-ups on the portal: the customer requests one, or buys one and
    pays it online, then comes back to the retainer's page."""

    def _retainer_page_values(self, retainer_sudo, access_token, purchase=None, **kw):
        """The retainer page also shows the top-up forms, the result of the
        last top-up request (once) and that of the purchase ``purchase``
        (URL parameter) the customer comes back from after paying."""
        topup_done = request.session.get(TOPUP_SESSION_KEY)
        if topup_done and topup_done.get("retainer_id") == retainer_sudo.id:
            request.session.pop(TOPUP_SESSION_KEY)
        else:
            topup_done = None
        values = {
            "topup_done": topup_done,
            "topup_form": {"quantity": "", "unit": UNIT_DAY, "note": ""},
            **self._retainer_buy_values(retainer_sudo, purchase),
            "topup_units": retainer_sudo._portal_topup_unit_selection(),
            **kw,
        }
        return super()._retainer_page_values(retainer_sudo, access_token, **values)

    # === REQUEST === #

    @http.route(
        ["/my/retainers/<int:retainer_id>/topup"],
        type="http",
        auth="public",
        website=True,
        methods=["POST"],
    )
    def portal_my_retainer_topup(
        self, retainer_id, access_token=None, quantity=None, unit=None, note=None, **kw
    ):
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        try:
            order = retainer_sudo._portal_request_topup(
                parse_quantity(quantity),
                unit,
                note=parse_text(note),
                requester=self._retainer_requester(),
            )
        except UserError as error:
            values = self._retainer_page_values(
                retainer_sudo,
                access_token,
                topup_error=error.args[0],
                topup_form={
                    "quantity": (quantity or "")[:20],
                    "unit": unit,
                    "note": (note or "")[:2000],
                },
            )
            return request.render("defining_retainer_portal.portal_my_retainer", values)
        request.session[TOPUP_SESSION_KEY] = {
            "retainer_id": retainer_sudo.id,
            "order_name": order.name if order else False,
            "order_url": order.get_portal_url() if order else False,
        }
        return request.redirect(
            self._retainer_url(retainer_sudo, access_token) + "#retainer_topup"
        )

    # === PURCHASE === #

    def _retainer_buy_values(self, retainer_sudo, purchase=None):
        """Values of the buy form and of the result of a purchase.

        :param purchase: id (URL parameter) of the portal purchase the
            customer comes back from after paying: shown only if it is one
            of this retainer's.
        """
        values = {
            **retainer_sudo._portal_buy_values(self._retainer_requester()),
            "buy_form": {"product_id": False, "quantity": 1},
            # The page runs on a read-only cursor: a link never creates a
            # token (get_portal_url would); the customer's own orders open
            # without one.
            "order_portal_url": lambda order: (
                f"{order.access_url}?access_token={order.access_token}"
                if order.access_token
                else order.access_url
            ),
            "purchase": False,
            "purchase_tx": False,
        }
        purchase_id = parse_id(purchase)
        if purchase_id:
            values.update(retainer_sudo._portal_purchase_values(purchase_id))
        return values

    @http.route(
        ["/my/retainers/<int:retainer_id>/buy"],
        type="http",
        auth="public",
        website=True,
        methods=["POST"],
    )
    def portal_my_retainer_buy(
        self, retainer_id, access_token=None, product_id=None, quantity=None, **kw
    ):
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        product_id = parse_id(product_id)
        # sudo: a portal user cannot read products; the product is only
        # compared with those the retainer sells on the portal.
        product = request.env["product.product"].sudo().browse(product_id).exists()
        try:
            order_sudo = retainer_sudo._portal_buy(
                product,
                parse_whole_quantity(quantity),
                requester=self._retainer_requester(),
            )
        except UserError as error:
            values = self._retainer_page_values(
                retainer_sudo,
                access_token,
                buy_error=error.args[0],
            )
            values["buy_form"] = {
                "product_id": product.id,
                "quantity": (quantity or "")[:20],
            }
            return request.render("defining_retainer_portal.portal_my_retainer", values)
        return request.redirect(order_sudo.get_portal_url())

    def _get_payment_values(self, order_sudo, *args, **kwargs):
        """Bring the customer back to the retainer page once a retainer
        top-up bought online is paid (or the payment failed): the page shows
        the new balance or what went wrong.

        Only a user who may see the retainer with their own access lands
        there, and never with the retainer's share token: whoever holds only
        the quotation's link (accounts payable, an automatic top-up) must not
        get the retainer's usage, statements and conversation with it. They
        land back on the quotation (Odoo's landing route)."""
        values = super()._get_payment_values(order_sudo, *args, **kwargs)
        retainer = order_sudo.retainer_id.with_user(request.env.user)
        if retainer._portal_is_paid_online(order_sudo) and retainer.has_access("read"):
            values["landing_route"] = self._retainer_url(
                retainer, None, purchase=order_sudo.id
            )
        return values
