from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

# A closed ticket stays on its retainer's portal page this many days.
PORTAL_RECENT_TICKET_DAYS = 30
# Most tickets the retainer's portal page lists (open ones first).
PORTAL_TICKET_LIMIT = 20
# Retainers a customer cannot open a ticket on from the portal.
NO_NEW_TICKET_STATES = ("draft", "closed")


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    retainer_id = fields.Many2one(
        "retainer.contract", index="btree_not_null", tracking=True
    )

    # === PORTAL === #

    # The portal side of tickets on retainers: which tickets a retainer's
    # page lists, what their work cost the retainer, and whether a customer
    # may open a ticket on a retainer.

    @api.model
    def _portal_retainer_ticket_domain(self, retainer):
        """Domain of the tickets the portal page of ``retainer`` lists: its
        open tickets and those closed in the last
        ``PORTAL_RECENT_TICKET_DAYS`` days."""
        since = fields.Datetime.now() - timedelta(days=PORTAL_RECENT_TICKET_DAYS)
        return [
            ("retainer_id", "=", retainer.id),
            "|",
            ("stage_id.closed", "=", False),
            ("closed_date", ">=", since),
        ]

    @api.model
    def _portal_retainer_work(self, retainer, tickets):
        """The ledger debits of ``retainer`` for the work on ``tickets``:
        the debits, not reversed, of the tickets' timesheet lines (one
        query). Called with the retainer the portal's access check returned
        (sudo): it reads that retainer's ledger only."""
        if not tickets:
            return self.env["retainer.ledger.entry"]
        return self.env["retainer.ledger.entry"].search(
            [
                ("contract_id", "=", retainer.id),
                ("kind", "=", "debit"),
                ("reversal_entry_ids", "=", False),
                ("timesheet_id.ticket_id", "in", tickets.ids),
            ]
        )

    @api.model
    def _portal_retainer_units(self, retainer, tickets):
        """``{ticket id: units}``: what the work on each of ``tickets`` cost
        ``retainer`` (a positive number; 0 for a ticket without work). See
        ``_portal_retainer_work`` for who calls it."""
        units = dict.fromkeys(tickets.ids, 0)
        for entry in self._portal_retainer_work(retainer, tickets):
            units[entry.timesheet_id.ticket_id.id] -= entry.units
        return units

    @api.model
    def _portal_new_ticket_refusal(self, retainer):
        """Why a customer may not open a ticket on ``retainer`` from the
        portal (it takes no more work: a draft or a closed retainer), or
        ``False`` when they may."""
        if retainer.state not in NO_NEW_TICKET_STATES:
            return False
        states = dict(retainer._fields["state"]._description_selection(self.env))
        return self.env._(
            "Retainer %(retainer)s is %(state)s: it takes no new ticket. "
            "Contact your account manager.",
            retainer=retainer.name,
            state=states[retainer.state].lower(),
        )

    @api.model
    def _portal_check_new_ticket_retainer(self, retainer):
        """Refuse a new portal ticket on ``retainer`` when it takes none
        (see ``_portal_new_ticket_refusal``).

        :raises UserError: with the reason.
        """
        refusal = self._portal_new_ticket_refusal(retainer)
        if refusal:
            raise UserError(refusal)
