from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.urls import url_encode

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request
from odoo.osv import expression

from odoo.addons.defining_retainer.report.retainer_statement_report import (
    PERIOD_CONTEXT_KEY,
    STATEMENT_REPORT,
)
from odoo.addons.defining_retainer.tools.statement import normalise_period, parse_date
from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..tools.params import parse_id, parse_page, parse_text, parse_token

SEARCH_MAX_LENGTH = 100
# How the usage can be grouped (the "Group by" choice of the page).
GROUPBY_OPTIONS = ("none", "month", "incident")
# Retainers the /my tile names (a customer usually has one).
HOME_TILE_RETAINERS = 3


class RetainerPortal(CustomerPortal):
    """The retainers' pages on the portal: the list and the home counter, a
    retainer's page, its statements and the documents of its top-ups; and
    what the other concerns extending it share (the access check, the URLs,
    the page's values): ``topup.py`` (top-up requests and purchases) and
    ``mail.py`` (email preferences)."""

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
        if not counters and request.env["retainer.contract"].has_access("read"):
            # The home page itself (counters come later): the tile says the
            # balance and what to act on.
            retainers = request.env["retainer.contract"].search(
                self._retainer_domain() + [("state", "!=", "closed")],
                limit=HOME_TILE_RETAINERS,
            )
            values["retainer_home_summaries"] = retainers._portal_home_summaries()
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

    def _retainer_requester(self):
        """The contact acting on the portal: ``None`` for a visitor using a
        share link."""
        user = request.env.user
        return None if user._is_public() else user.partner_id

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
        **extra,
    ):
        """Values of the retainer page. ``chatter_params``: the ``pid`` and
        ``hash`` of an email's link, which let its recipient write in the
        conversation under their name (see ``portal.message_thread``);
        ``extra``: values of the concerns extending the page (top-ups, email
        preferences) and of the form being shown again."""
        date_from, date_to = parse_date(date_from), parse_date(date_to)
        if date_from and date_to and date_from > date_to:
            date_from, date_to = date_to, date_from
        # Time rounded per incident reads best per incident (a line that
        # cost nothing shows inside its incident): the default there.
        default_groupby = (
            "incident" if retainer_sudo.rounding_scope == "incident" else "none"
        )
        groupby = groupby if groupby in GROUPBY_OPTIONS else default_groupby
        search = parse_text(search, SEARCH_MAX_LENGTH)
        detail = retainer_sudo._portal_detail_values(
            date_from=date_from,
            date_to=date_to,
            search=search,
            group_by_month=groupby == "month",
            group_by_incident=groupby == "incident",
            page=parse_page(page),
            step=self._retainer_usage_per_page,
        )
        filters = {
            "date_from": date_from and date_from.isoformat(),
            "date_to": date_to and date_to.isoformat(),
            "search": search,
            "groupby": groupby if groupby != default_groupby else None,
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
            **self._retainer_past_statement_data(retainer_sudo, access_token),
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

    def _retainer_past_statement_data(self, retainer_sudo, access_token):
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
        document = retainer_sudo._portal_topup_document(parse_id(entry_id), kind)
        if not document:
            return request.redirect(self._retainer_url(retainer_sudo, access_token))
        return request.redirect(document.get_portal_url())
