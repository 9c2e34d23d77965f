from odoo import Command, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.defining_retainer.models.retainer_contract import (
    CUSTOMER_MAIL_KINDS,
)


# One model, one file per concern: this one is the retainer's conversation on
# the portal and the customers' email preferences.
class RetainerContract(models.Model):
    """The portal side of a retainer's conversation: the customer reads and
    writes in its chatter, and switches its emails off for themselves."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # Customers may read their retainers, never write them: reading is enough
    # to post in the conversation (as on invoices and tasks). Who can read is
    # the record rules' business (security/retainer_portal_security.xml).
    _mail_post_access = "read"

    # === PORTAL: CONVERSATION === #

    def _portal_chatter_extra_message_domain(self):
        """Domain of the messages of ``self`` that the portal chatter shows
        besides the comments it shows for every document: the emails the
        customer got (alerts, statements, see ``CUSTOMER_MAIL_KINDS``).

        Their subtypes are not internal, so the access rules of
        ``mail.message`` let the customer read them; the domain repeats the
        conditions of the share domain for a visitor with the share link.
        """
        self.ensure_one()
        subtype_ids = [
            self.env.ref(subtype_xmlid).id
            for subtype_xmlid, _field in CUSTOMER_MAIL_KINDS.values()
        ]
        return [
            ("model", "=", self._name),
            ("res_id", "=", self.id),
            ("message_type", "in", ("comment", "email", "email_outgoing")),
            ("subtype_id", "in", subtype_ids),
            ("subtype_id.internal", "=", False),
            ("is_internal", "=", False),
        ]

    # === PORTAL: EMAIL PREFERENCES === #

    def _portal_mail_preferences(self, partner):
        """What the preferences form of ``self`` shows ``partner``.

        :returns: dict with ``notified`` (``partner`` is one of the contacts
            the retainer's emails go to) and, per kind of
            ``CUSTOMER_MAIL_KINDS``, whether ``partner`` gets those emails.
        """
        self.ensure_one()
        preferences = {"notified": partner in self.notify_partner_ids}
        for kind, (_subtype, optout_field) in CUSTOMER_MAIL_KINDS.items():
            preferences[kind] = (
                preferences["notified"] and partner not in (self[optout_field])
            )
        return preferences

    def _portal_set_mail_preferences(self, partner, preferences):
        """Switch the customer emails of ``self`` on or off for ``partner``.

        Called from the portal in sudo mode as the logged-in user, after the
        access check: a customer changes only their own choice, so
        ``partner`` must be the current user's contact (``self.env.user``:
        not the superuser the access check's record acts as), and only a
        notified contact has emails to switch off.

        :param partner: ``res.partner`` whose choice changes.
        :param dict preferences: ``{kind: bool}``, ``True`` to get the emails
            of ``kind`` (a key of ``CUSTOMER_MAIL_KINDS``); kinds left out
            keep their setting.
        :raises AccessError: ``partner`` is not the current user's contact.
        :raises UserError: ``partner`` gets no email of ``self``, or an
            unknown kind; nothing is written then.
        """
        self.ensure_one()
        if partner != self.env.user.partner_id:
            raise AccessError(
                self.env._(
                    "You can only change your own email preferences, not those "
                    "of %(contact)s.",
                    contact=partner.display_name,
                )
            )
        if set(preferences) - set(CUSTOMER_MAIL_KINDS) or not all(
            isinstance(value, bool) for value in preferences.values()
        ):
            raise UserError(self.env._("Unknown email preference."))
        if partner not in self.notify_partner_ids:
            raise UserError(
                self.env._(
                    "Retainer %(retainer)s sends you no email, so there is "
                    "nothing to switch off. Your account manager can add you "
                    "to its notified contacts.",
                    retainer=self.name,
                )
            )
        vals = {}
        for kind, wanted in preferences.items():
            optout_field = CUSTOMER_MAIL_KINDS[kind][1]
            if wanted == (partner in self[optout_field]):
                command = Command.unlink if wanted else Command.link
                vals[optout_field] = [command(partner.id)]
        if vals:
            self.write(vals)
        return self._portal_mail_preferences(partner)
