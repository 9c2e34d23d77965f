from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager


class RetainerPortal(CustomerPortal):
    _retainer_usage_per_page = 40

    def _retainer_domain(self):
        partner = request.env.user.partner_id
        return [
            ("partner_id", "child_of", [partner.commercial_partner_id.id]),
            ("state", "!=", "draft"),
        ]

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "retainer_count" in counters:
            Contract = request.env["retainer.contract"]
            values["retainer_count"] = (
                Contract.search_count(self._retainer_domain())
                if Contract.has_access("read")
                else 0
            )
        return values

    def _retainer_searchbar_sortings(self):
        env = request.env
        return {
            "name": {"label": env._("Reference"), "order": "name desc, id desc"},
            "state": {"label": env._("Status"), "order": "state, id desc"},
        }

    @http.route(
        ["/my/retainers", "/my/retainers/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_retainers(self, page=1, sortby=None, **kw):
        Contract = request.env["retainer.contract"]
        sortings = self._retainer_searchbar_sortings()
        if sortby not in sortings:
            sortby = "name"
        domain = self._retainer_domain()
        total = Contract.search_count(domain)
        pager = portal_pager(
            url="/my/retainers",
            url_args={"sortby": sortby},
            total=total,
            page=page,
            step=self._items_per_page,
        )
        retainers = Contract.search(
            domain,
            order=sortings[sortby]["order"],
            limit=self._items_per_page,
            offset=pager["offset"],
        )
        values = self._prepare_portal_layout_values()
        values.update(
            retainers=retainers,
            page_name="retainer",
            pager=pager,
            default_url="/my/retainers",
            searchbar_sortings=sortings,
            sortby=sortby,
        )
        return request.render("defining_retainer_portal.portal_my_retainers", values)

    @http.route(
        ["/my/retainers/<int:retainer_id>"], type="http", auth="public", website=True
    )
    def portal_my_retainer(self, retainer_id, access_token=None, page=1, **kw):
        try:
            retainer_sudo = self._document_check_access(
                "retainer.contract", retainer_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        Ledger = request.env["retainer.ledger.entry"]
        # sudo: access to the retainer was checked just above; the entries
        # are read only through its id and shown with customer-safe fields.
        usage_domain = [("contract_id", "=", retainer_sudo.id)]
        total = Ledger.sudo().search_count(usage_domain)
        pager = portal_pager(
            url=f"/my/retainers/{retainer_sudo.id}",
            url_args={"access_token": access_token} if access_token else {},
            total=total,
            page=page,
            step=self._retainer_usage_per_page,
        )
        entries = Ledger.sudo().search(
            usage_domain, limit=self._retainer_usage_per_page, offset=pager["offset"]
        )
        values = self._get_page_view_values(
            retainer_sudo,
            access_token,
            {
                "retainer": retainer_sudo,
                "entries": entries,
                "pager": pager,
                "page_name": "retainer",
            },
            "my_retainers_history",
            False,
        )
        return request.render("defining_retainer_portal.portal_my_retainer", values)
