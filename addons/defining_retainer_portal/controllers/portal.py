from werkzeug.exceptions import BadRequest, Forbidden, NotFound
from werkzeug.urls import url_encode

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request
from odoo.osv import expression

from odoo.addons.defining_retainer.report.retainer_statement_report import (
    PERIOD_CONTEXT_KEY,
    STATEMENT_REPORT,
)
from odoo.addons.defining_retainer.tools.statement import normalise_period, parse_date
from odoo.addons.portal.controllers.mail import PortalChatter
from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..models.mail_message import RETAINER_CHATTER_CONTEXT_KEY
from ..tools.params import (
    parse_count,
    parse_id,
    parse_page,
    parse_text,
    parse_token,
)
from ..tools.topup import UNIT_DAY, parse_quantity, parse_whole_quantity

TOPUP_SESSION_KEY = "defining_retainer_portal_topup"
MAIL_PREFERENCES_SESSION_KEY = "defining_retainer_portal_mail_preferences"
SEARCH_MAX_LENGTH = 100
# Messages one fetch of the portal chatter returns at most (it asks 30).
CHATTER_FETCH_MAX = 100


class RetainerPortal(CustomerPortal):
    _retainer_usage_per_page = 40

    # === HOME AND LIST === #

    def _retainer_domain(self):
        partner = request.env.user.partner_id
        return [
            ("partner_id.commercial_partner_id", "=", partner.commercial_partner_id.id),
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
            "newest": {"label": env._("Newest"), "order": "id desc"},
            "name": {"label": env._("Reference"), "order": "name, id desc"},
            "state": {"label": env._("Status"), "order": "state, id desc"},
        }

    def _retainer_searchbar_filters(self):
        env = request.env
        return {
            "all": {"label": env._("All"), "domain": []},
            "active": {"label": env._("Active"), "domain": [("state", "=", "active")]},
            "ended": {
                "label": env._("Suspended or closed"),
                "domain": [("state", "in", ("suspended", "closed"))],
            },
        }

    def _retainer_searchbar_inputs(self):
        env = request.env
        return {
            "name": {"input": "name", "label": env._("Search in Reference")},
            "level": {"input": "level", "label": env._("Search in Level")},
        }

    def _retainer_search_domain(self, search_in, search):
        field = {"name": "name", "level": "level_id.name"}[search_in]
        return [(field, "ilike", search)]

    @http.route(
        ["/my/retainers", "/my/retainers/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def portal_my_retainers(
        self, page=1, sortby=None, filterby=None, search=None, search_in="name", **kw
    ):
        Contract = request.env["retainer.contract"]
        sortings = self._retainer_searchbar_sortings()
        filters = self._retainer_searchbar_filters()
        inputs = self._retainer_searchbar_inputs()
        sortby = sortby if sortby in sortings else "newest"
        filterby = filterby if filterby in filters else "all"
        search_in = search_in if search_in in inputs else "name"
        search = parse_text(search, SEARCH_MAX_LENGTH)
        domain = expression.AND([self._retainer_domain(), filters[filterby]["domain"]])
        if search:
            domain = expression.AND(
                [domain, self._retainer_search_domain(search_in, search)]
            )
        readable = Contract.has_access("read")
        pager = portal_pager(
            url="/my/retainers",
            url_args={
                "sortby": sortby,
                "filterby": filterby,
                "search_in": search_in,
                "search": search,
            },
            total=Contract.search_count(domain) if readable else 0,
            page=parse_page(page),
            step=self._items_per_page,
        )
        retainers = (
            Contract.search(
                domain,
                order=sortings[sortby]["order"],
                limit=self._items_per_page,
                offset=pager["offset"],
            )
            if readable
            else Contract
        )
        request.session["my_retainers_history"] = retainers.ids[:100]
        values = self._prepare_portal_layout_values()
        values.update(
            retainers=retainers,
            page_name="retainer",
            pager=pager,
            default_url="/my/retainers",
            searchbar_sortings=sortings,
            sortby=sortby,
            searchbar_filters=filters,
            filterby=filterby,
            searchbar_inputs=inputs,
            search_in=search_in,
            search=search,
        )
        return request.render("defining_retainer_portal.portal_my_retainers", values)

    # === DETAIL === #

    def _retainer_check_access(self, retainer_id, access_token):
        """Return the retainer (sudo) if the visitor may see it.

        :raises AccessError, MissingError: otherwise.
        """
        retainer_id = parse_id(retainer_id)
        if not retainer_id:
            raise MissingError(request.env._("This document does not exist."))
        retainer_sudo = self._document_check_access(
            "retainer.contract", retainer_id, parse_token(access_token)
        )
        # A draft is internal, even for someone holding a share link.
        if retainer_sudo.state == "draft" and request.env.user.share:
            raise MissingError(request.env._("This document does not exist."))
        return retainer_sudo

    def _retainer_url(self, retainer_sudo, access_token, suffix="", **params):
        params = {key: value for key, value in params.items() if value}
        if access_token:
            params["access_token"] = access_token
        url = f"/my/retainers/{retainer_sudo.id}{suffix}"
        return f"{url}?{url_encode(params)}" if params else url

    def _retainer_page_values(
        self,
        retainer_sudo,
        access_token,
        page=1,
        date_from=None,
        date_to=None,
        search=None,
        groupby=None,
        chatter_params=None,
        purchase=None,
        **extra,
    ):
        """Values of the retainer page. ``chatter_params``: the ``pid`` and
        ``hash`` of an email's link, which let its recipient write in the
        conversation under their name (see ``portal.message_thread``)."""
        date_from, date_to = parse_date(date_from), parse_date(date_to)
        if date_from and date_to and date_from > date_to:
            date_from, date_to = date_to, date_from
        groupby = groupby if groupby in ("none", "month") else "none"
        search = parse_text(search, SEARCH_MAX_LENGTH)
        detail = retainer_sudo._portal_detail_values(
            date_from=date_from,
            date_to=date_to,
            search=search,
            group_by_month=groupby == "month",
            page=parse_page(page),
            step=self._retainer_usage_per_page,
        )
        filters = {
            "date_from": date_from and date_from.isoformat(),
            "date_to": date_to and date_to.isoformat(),
            "search": search,
            "groupby": groupby if groupby != "none" else None,
        }
        url_args = {key: value for key, value in filters.items() if value}
        if access_token:
            url_args["access_token"] = access_token
        pager = portal_pager(
            url=f"/my/retainers/{retainer_sudo.id}",
            url_args=url_args,
            total=detail["usage_total"],
            page=detail["page"],
            step=self._retainer_usage_per_page,
        )
        # The same rule as the statement itself, so the link matches it.
        statement_from, statement_to = normalise_period(
            date_from, date_to, fields.Date.context_today(retainer_sudo)
        )
        statement_period = {
            "date_from": statement_from.isoformat(),
            "date_to": statement_to.isoformat(),
        }
        topup_done = request.session.get(TOPUP_SESSION_KEY)
        if topup_done and topup_done.get("retainer_id") == retainer_sudo.id:
            request.session.pop(TOPUP_SESSION_KEY)
        else:
            topup_done = None
        values = {
            **detail,
            "topup_document_urls": self._retainer_document_urls(
                retainer_sudo, access_token, detail["topup_documents"]
            ),
            "retainer": retainer_sudo,
            "page_name": "retainer",
            "pager": pager,
            "filters": filters,
            "date_from": date_from,
            "date_to": date_to,
            "search": search,
            "groupby": groupby,
            "base_url": self._retainer_url(retainer_sudo, None),
            "statement_url": self._retainer_url(
                retainer_sudo,
                access_token,
                suffix="/statement",
                report_type="pdf",
                download="true",
                **statement_period,
            ),
            "statement_period": statement_period,
            "topup_done": topup_done,
            **self._retainer_past_statement_values(retainer_sudo, access_token),
            "topup_form": {"quantity": "", "unit": UNIT_DAY, "note": ""},
            **self._retainer_buy_values(retainer_sudo, purchase),
            "topup_units": retainer_sudo._portal_topup_unit_selection(),
            **self._retainer_mail_preferences_values(retainer_sudo),
            **extra,
        }
        return self._get_page_view_values(
            retainer_sudo,
            access_token,
            values,
            "my_retainers_history",
            False,
            **(chatter_params or {}),
        )

    def _retainer_mail_preferences_values(self, retainer_sudo):
        """Values of the email preferences form: only a logged-in user has
        preferences (``mail_preferences`` is ``None`` for a visitor using a
        share link), and the result of the last change, shown once."""
        user = request.env.user
        result = request.session.get(MAIL_PREFERENCES_SESSION_KEY)
        if result and result.get("retainer_id") == retainer_sudo.id:
            request.session.pop(MAIL_PREFERENCES_SESSION_KEY)
        else:
            result = None
        return {
            "mail_preferences": None
            if user._is_public()
            else retainer_sudo._portal_mail_preferences(user.partner_id),
            "mail_preferences_result": result,
        }

    def _retainer_document_urls(self, retainer_sudo, access_token, documents):
        """``{(entry id, "order" or "invoice"): url}`` of the top-ups'
        documents, without writing anything: the retainer page is read-only
        (it may be served by a replica). A document that has no access token
        yet is linked through ``portal_my_retainer_document``, which writes
        one on the primary and redirects."""
        urls = {}
        for entry_id, found in documents.items():
            for kind, document in found.items():
                if document.access_token:
                    urls[entry_id, kind] = (
                        f"{document.access_url}?"
                        f"{url_encode({'access_token': document.access_token})}"
                    )
                else:
                    urls[entry_id, kind] = self._retainer_url(
                        retainer_sudo,
                        access_token,
                        suffix=f"/document/{entry_id}/{kind}",
                    )
        return urls

    def _retainer_past_statement_values(self, retainer_sudo, access_token):
        """The past statements the page lists and their download URLs."""
        statements = retainer_sudo._portal_past_statements()
        return {
            "past_statements": statements,
            "past_statement_urls": {
                statement.id: self._retainer_url(
                    retainer_sudo, access_token, suffix=f"/statements/{statement.id}"
                )
                for statement in statements
            },
        }

    def _retainer_show_statement(
        self, retainer_sudo, report_type, date_from, date_to, download
    ):
        date_from, date_to = parse_date(date_from), parse_date(date_to)
        # _show_report forwards only report_type to the report: the period
        # goes through the context (see the report model).
        request.update_context(
            **{
                PERIOD_CONTEXT_KEY: (
                    date_from and date_from.isoformat(),
                    date_to and date_to.isoformat(),
                )
            }
        )
        return self._show_report(
            model=retainer_sudo,
            report_type=report_type,
            report_ref=STATEMENT_REPORT,
            download=download in (True, "true", "1"),
        )

    @http.route(
        [
            "/my/retainers/<int:retainer_id>",
            "/my/retainers/<int:retainer_id>/page/<int:page>",
        ],
        type="http",
        auth="public",
        website=True,
        readonly=True,
    )
    def portal_my_retainer(
        self, retainer_id, access_token=None, report_type=None, download=None, **kw
    ):
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        if report_type in ("html", "pdf"):
            return self._retainer_show_statement(
                retainer_sudo,
                report_type,
                kw.get("date_from"),
                kw.get("date_to"),
                download,
            )
        values = self._retainer_page_values(
            retainer_sudo,
            access_token,
            page=kw.get("page", 1),
            date_from=kw.get("date_from"),
            date_to=kw.get("date_to"),
            search=kw.get("search"),
            groupby=kw.get("groupby"),
            chatter_params={"pid": kw.get("pid"), "hash": kw.get("hash")},
            purchase=kw.get("purchase"),
        )
        return request.render("defining_retainer_portal.portal_my_retainer", values)

    @http.route(
        ["/my/retainers/<int:retainer_id>/statement"],
        type="http",
        auth="public",
        website=True,
        readonly=True,
    )
    def portal_my_retainer_statement(
        self,
        retainer_id,
        access_token=None,
        report_type="pdf",
        date_from=None,
        date_to=None,
        download=None,
        **kw,
    ):
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        return self._retainer_show_statement(
            retainer_sudo,
            report_type if report_type in ("html", "pdf") else "pdf",
            date_from,
            date_to,
            download,
        )

    @http.route(
        ["/my/retainers/<int:retainer_id>/statements/<int:statement_id>"],
        type="http",
        auth="public",
        website=True,
        readonly=True,
    )
    def portal_my_retainer_statement_pdf(
        self, retainer_id, statement_id, access_token=None, **kw
    ):
        """Download the PDF of a statement emailed to the customer: 403 for a
        retainer the visitor may not see (login first for an anonymous
        visitor), 404 for a retainer or statement that does not exist."""
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except MissingError as error:
            raise NotFound() from error
        except AccessError as error:
            if request.env.user._is_public():
                login = url_encode({"redirect": request.httprequest.full_path})
                return request.redirect(f"/web/login?{login}")
            raise Forbidden() from error
        statement_id = parse_id(statement_id)
        attachment_sudo = statement_id and retainer_sudo._portal_statement_attachment(
            statement_id
        )
        if not attachment_sudo:
            raise NotFound()
        # sudo: the visitor may see the retainer (checked above) and the file
        # is the PDF of one of its statements; portal users cannot read
        # attachments themselves.
        return (
            request.env["ir.binary"]
            ._get_stream_from(attachment_sudo)
            .get_response(as_attachment=True)
        )

    @http.route(
        ["/my/retainers/<int:retainer_id>/document/<int:entry_id>/<string:kind>"],
        type="http",
        auth="public",
        website=True,
    )
    def portal_my_retainer_document(
        self, retainer_id, entry_id, kind, access_token=None, **kw
    ):
        """Open the order or invoice of a top-up of the retainer (see
        ``_retainer_document_urls``): give it an access token if it has none
        and redirect to its portal page."""
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        entry_id = parse_id(entry_id)
        # sudo: the visitor may see the retainer (checked above), and only a
        # top-up entry of that retainer linking a document of its customer
        # is followed (_portal_documents).
        entry_sudo = request.env["retainer.ledger.entry"].sudo().browse(entry_id)
        document = None
        if entry_sudo.exists() and entry_sudo.contract_id == retainer_sudo:
            document = entry_sudo._portal_documents().get(entry_sudo.id, {}).get(kind)
        if not document:
            return request.redirect(self._retainer_url(retainer_sudo, access_token))
        return request.redirect(document.get_portal_url())

    # === TOP-UP REQUEST === #

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
        user = request.env.user
        try:
            order = retainer_sudo._portal_request_topup(
                parse_quantity(quantity),
                unit,
                note=parse_text(note),
                requester=None if user._is_public() else user.partner_id,
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

    # === PORTAL PURCHASE === #

    def _retainer_buy_values(self, retainer_sudo, purchase=None):
        """Values of the buy form and of the result of a purchase.

        :param purchase: id (URL parameter) of the portal purchase the
            customer comes back from after paying: shown only if it is one
            of this retainer's.
        """
        products = retainer_sudo._portal_buy_products()
        mode = "buy" if products else "request"
        partner = request.env.user.partner_id
        if (
            partner.commercial_partner_id
            != retainer_sudo.partner_id.commercial_partner_id
        ):
            partner = retainer_sudo.partner_id
        can_pay = mode == "buy" and retainer_sudo._portal_can_pay_online(partner)
        values = {
            "topup_mode": mode,
            "buy_unavailable": mode == "buy" and not can_pay,
            "buy_offers": (
                retainer_sudo._portal_buy_offers(partner, products) if can_pay else []
            ),
            "buy_form": {"product_id": False, "quantity": 1},
            "open_purchase": (
                retainer_sudo._portal_open_purchase() if can_pay else False
            ),
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
            # sudo: the portal user reads their own retainer's order, found
            # only among the purchases of the retainer they proved access to.
            order_sudo = (
                request.env["sale.order"]
                .sudo()
                .search(
                    [
                        ("id", "=", purchase_id),
                        ("retainer_id", "=", retainer_sudo.id),
                        ("retainer_topup_origin", "in", ("portal_buy", "auto")),
                    ]
                )
            )
            values["purchase"] = order_sudo
            values["purchase_tx"] = order_sudo.transaction_ids.sorted("id")[-1:]
            values["purchase_units"] = sum(
                line._retainer_qty_to_units(line.product_uom_qty)
                for line in order_sudo.order_line.filtered("retainer_product_units")
            )
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
        user = request.env.user
        product_id = parse_id(product_id)
        # sudo: a portal user cannot read products; the product is only
        # compared with those the retainer sells on the portal.
        product = request.env["product.product"].sudo().browse(product_id).exists()
        try:
            order_sudo = retainer_sudo._portal_buy(
                product,
                parse_whole_quantity(quantity),
                requester=None if user._is_public() else user.partner_id,
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
        if (
            retainer
            and order_sudo.retainer_topup_origin in ("portal_buy", "auto")
            and retainer.has_access("read")
        ):
            values["landing_route"] = self._retainer_url(
                retainer, None, purchase=order_sudo.id
            )
        return values

    # === EMAIL PREFERENCES === #

    @http.route(
        ["/my/retainers/<int:retainer_id>/mail_preferences"],
        type="http",
        auth="user",
        website=True,
        methods=["POST"],
    )
    def portal_my_retainer_mail_preferences(self, retainer_id, **kw):
        """Switch the retainer's alert and statement emails on or off for
        the logged-in user (checkboxes ``alert`` and ``statement``: sent when
        on). Only with the user's own access to the retainer: a share link
        does not give preferences."""
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, None)
        except (AccessError, MissingError) as error:
            raise NotFound() from error
        preferences = {kind: bool(kw.get(kind)) for kind in ("alert", "statement")}
        user = request.env.user
        # sudo: customers may not write retainers, but the user may read this
        # one (checked above) and the model method changes nothing but the
        # user's own contact in its opt-out fields (it refuses any other
        # contact). As the user (the access check's record acts as the
        # superuser), so the method knows whose contact is theirs.
        retainer = retainer_sudo.with_user(user).sudo()
        try:
            retainer._portal_set_mail_preferences(user.partner_id, preferences)
        except (AccessError, UserError) as error:
            result = {"retainer_id": retainer_sudo.id, "error": error.args[0]}
        else:
            result = {"retainer_id": retainer_sudo.id, "saved": True}
        request.session[MAIL_PREFERENCES_SESSION_KEY] = result
        return request.redirect(
            self._retainer_url(retainer_sudo, None) + "#retainer_mail_preferences"
        )


def _parse_message_id(value):
    """The id of a message the portal chatter pages from (``after`` or
    ``before``), ``None`` when not given.

    :raises BadRequest: given but not a message id.
    """
    if value is None:
        return None
    message_id = parse_id(value)
    if not message_id:
        raise BadRequest()
    return message_id


class RetainerPortalChatter(PortalChatter):
    @http.route()
    def portal_message_fetch(
        self, thread_model, thread_id, limit=10, after=None, before=None, **kw
    ):
        """On a retainer, the portal chatter also lists the emails its
        customer got (alerts, statements): see ``mail.message._message_fetch``
        in this addon. The access checks stay those of the route; a retainer
        that cannot exist is not found, a malformed paging parameter is a
        bad request."""
        if thread_model == "retainer.contract":
            thread_id = parse_id(thread_id)
            if not thread_id:
                raise NotFound()
            try:
                limit = parse_count(limit, default=10, maximum=CHATTER_FETCH_MAX)
            except ValueError as error:
                raise BadRequest() from error
            after, before = _parse_message_id(after), _parse_message_id(before)
            request.update_context(**{RETAINER_CHATTER_CONTEXT_KEY: thread_id})
        return super().portal_message_fetch(
            thread_model, thread_id, limit=limit, after=after, before=before, **kw
        )
