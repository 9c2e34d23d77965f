from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

from odoo.addons.helpdesk_mgmt.controllers.main import HelpdeskTicketController


class RetainerTicketCloseController(HelpdeskTicketController):
    # helpdesk_mgmt 18.0 reads the ticket in sudo by id, on a GET: any
    # logged-in user could close any ticket with a link. Here the ticket is
    # read as the user (record rules) and only a form post with its CSRF
    # token closes it.
    @http.route("/ticket/close", type="http", auth="user", methods=["POST"], csrf=True)
    def support_ticket_close(self, ticket_id=None, stage_id=None, **kw):
        """Close the ticket ``ticket_id`` in ``stage_id`` if it is a stage
        customers may close tickets to (else nothing changes), and go back to
        the ticket's page, as helpdesk_mgmt does; 404 on a ticket the user
        may not read."""
        try:
            ticket_id = int(ticket_id)
            stage_id = int(stage_id)
        except (TypeError, ValueError) as error:
            raise NotFound() from error
        ticket = request.env["helpdesk.ticket"].search([("id", "=", ticket_id)])
        stage = request.env["helpdesk.ticket.stage"].browse(stage_id).exists()
        if not ticket:
            raise NotFound()
        if stage.close_from_portal:
            # sudo: the user may read the ticket (searched above with the
            # record rules) and the stage is one customers may close tickets
            # to; portal users have no write right on tickets.
            ticket.sudo().stage_id = stage
        return request.redirect(f"/my/ticket/{ticket.id}", code=302)
