from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.urls import url_encode

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.defining_retainer_portal.controllers.portal import RetainerPortal
from odoo.addons.defining_retainer_portal.tools.params import parse_id
from odoo.addons.helpdesk_mgmt.controllers.main import HelpdeskTicketController
from odoo.addons.helpdesk_mgmt.controllers.myaccount import CustomerPortalHelpdesk
from odoo.addons.portal.controllers.portal import CustomerPortal

from ..models.helpdesk_ticket import PORTAL_TICKET_LIMIT

# The parameter of helpdesk_mgmt's new-ticket form and submission naming the
# retainer the ticket is opened on.
RETAINER_PARAM = "retainer_id"


def new_ticket_url(retainer):
    """URL of helpdesk_mgmt's new-ticket form for a ticket on ``retainer``."""
    return f"/new/ticket?{url_encode({RETAINER_PARAM: retainer.id})}"


class RetainerTicketPortal(RetainerPortal, CustomerPortalHelpdesk):
    """Tickets on the retainers' portal pages: the retainer's page lists its
    open and recent tickets with their units and opens a new one; a ticket's
    page shows its retainer's balance and what each piece of work cost, to
    those who may see that retainer."""

    # === RETAINER PAGE === #

    def _retainer_page_values(self, retainer_sudo, access_token, **kw):
        """The retainer's page also lists its tickets the visitor may read
        (their record rules: a visitor with a share link reads none) and
        what each cost the retainer."""
        Ticket = request.env["helpdesk.ticket"]
        tickets = Ticket
        if Ticket.has_access("read"):
            tickets = Ticket.search(
                Ticket._portal_retainer_ticket_domain(retainer_sudo),
                order="closed_date desc, create_date desc, id desc",
                limit=PORTAL_TICKET_LIMIT,
            )
        # Opening a ticket needs a login that sees the retainer under its
        # record rules (a share link shows the page, it opens no ticket).
        can_open = not Ticket._portal_new_ticket_refusal(
            retainer_sudo
        ) and retainer_sudo.with_env(request.env).has_access("read")
        values = {
            "retainer_tickets": tickets,
            # sudo (the retainer's, from the access check): the ledger of
            # this retainer only, for tickets the visitor reads.
            "retainer_ticket_units": Ticket.sudo()._portal_retainer_units(
                retainer_sudo, tickets
            ),
            "retainer_new_ticket_url": (
                self._retainer_url(retainer_sudo, None, suffix="/ticket")
                if can_open
                else False
            ),
            **kw,
        }
        return super()._retainer_page_values(retainer_sudo, access_token, **values)

    @http.route(
        ["/my/retainers/<int:retainer_id>/ticket"],
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def portal_my_retainer_new_ticket(self, retainer_id, **kw):
        """Open a ticket on the retainer: helpdesk_mgmt's new-ticket form,
        for this retainer. 404 for a retainer that does not exist, 403 for
        one the user may not see."""
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, None)
        except MissingError as error:
            raise NotFound() from error
        except AccessError as error:
            raise Forbidden() from error
        return request.redirect(new_ticket_url(retainer_sudo))

    # === TICKET PAGE === #

    def _ticket_get_page_view_values(self, ticket, access_token, **kwargs):
        """The ticket's page also shows its retainer (balance, and the units
        of each piece of work) when the visitor may see that retainer: the
        retainer page's own check, as the visitor (the ticket's access token
        opens the ticket, not its retainer)."""
        values = super()._ticket_get_page_view_values(ticket, access_token, **kwargs)
        retainer_sudo = False
        if ticket.retainer_id:
            try:
                retainer_sudo = self._retainer_check_access(ticket.retainer_id.id, None)
            except (AccessError, MissingError):
                retainer_sudo = False
        values["ticket_retainer"] = retainer_sudo
        work = (
            # sudo (the retainer's, from the access check): its ledger only.
            request.env["helpdesk.ticket"]
            .sudo()
            ._portal_retainer_work(retainer_sudo, ticket)
            .sorted(lambda entry: (entry.date, entry.id))
            if retainer_sudo
            else False
        )
        values["ticket_retainer_work"] = work
        # The work per incident, as on the retainer's page: an incident
        # rounded once lists all its lines (those that cost no unit too,
        # read in sudo for this retainer's ticket only) with its units once.
        values["ticket_retainer_incidents"] = (
            work._retainer_incident_groups() if work else []
        )
        return values


class RetainerHelpdeskTicketController(HelpdeskTicketController):
    """helpdesk_mgmt's new-ticket form and submission, for a ticket on a
    retainer (``retainer_id``): checked as the logged-in user, the ticket
    created by helpdesk_mgmt with the retainer set."""

    def _retainer_for_new_ticket(self, retainer_id):
        """The retainer (sudo) a new ticket is opened on, if the user may
        see it and it takes new tickets.

        :raises NotFound: no such retainer.
        :raises Forbidden: the user may not see it.
        :raises UserError: it takes no new ticket (closed...).
        """
        retainer_id = parse_id(retainer_id)
        if not retainer_id:
            raise NotFound()
        try:
            # The portal's access check, as on the retainer's page: the
            # user's record rules (no access token: opening a ticket needs a
            # login). It reads nothing but the request.
            retainer_sudo = CustomerPortal._document_check_access(
                self, "retainer.contract", retainer_id
            )
        except MissingError as error:
            raise NotFound() from error
        except AccessError as error:
            raise Forbidden() from error
        request.env["helpdesk.ticket"]._portal_check_new_ticket_retainer(retainer_sudo)
        return retainer_sudo

    def _get_create_new_ticket_values(self, **kw):
        values = super()._get_create_new_ticket_values(**kw)
        values["retainer"] = (
            self._retainer_for_new_ticket(kw[RETAINER_PARAM])
            if kw.get(RETAINER_PARAM)
            else False
        )
        return values

    def _prepare_submit_ticket_vals(self, **kw):
        """A ticket submitted with ``retainer_id`` is on that retainer once
        the user's access to it is checked: a refusal raises before
        helpdesk_mgmt creates anything."""
        retainer_sudo = (
            self._retainer_for_new_ticket(kw[RETAINER_PARAM])
            if kw.get(RETAINER_PARAM)
            else False
        )
        vals = super()._prepare_submit_ticket_vals(**kw)
        if retainer_sudo:
            vals["retainer_id"] = retainer_sudo.id
        return vals
