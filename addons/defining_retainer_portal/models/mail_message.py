from odoo import models
from odoo.osv import expression

# Context key set by the portal chatter's fetch route (controllers/mail.py)
# for a retainer: the id of the retainer whose customer emails it also shows.
RETAINER_CHATTER_CONTEXT_KEY = "defining_retainer_portal_chatter_id"


class MailMessage(models.Model):
    _inherit = "mail.message"

    def _message_fetch(
        self, domain, search_term=None, before=None, after=None, around=None, limit=30
    ):
        """The portal chatter lists only the comments of a document
        (``/mail/chatter_fetch``); on a retainer it also lists the emails the
        customer got, which have subtypes of their own (see
        ``retainer.contract._portal_chatter_extra_message_domain``).

        The route checked the access to the retainer before fetching: the
        messages added are that retainer's customer emails only, and this
        model's access rules still apply unless the route read them as sudo
        for a valid share link."""
        retainer_id = self.env.context.get(RETAINER_CHATTER_CONTEXT_KEY)
        if retainer_id:
            retainer = self.env["retainer.contract"].browse(retainer_id)
            domain = expression.OR(
                [domain, retainer._portal_chatter_extra_message_domain()]
            )
        return super()._message_fetch(
            domain,
            search_term=search_term,
            before=before,
            after=after,
            around=around,
            limit=limit,
        )
