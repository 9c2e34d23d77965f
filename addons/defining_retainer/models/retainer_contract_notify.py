import logging

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

# Kinds of customer email a contact can switch off, each with its message
# subtype (data/mail_message_subtype_data.xml) and its opt-out field.
CUSTOMER_MAIL_KINDS = {
    "alert": ("defining_retainer.mt_retainer_alert", "alert_optout_partner_ids"),
    "statement": (
        "defining_retainer.mt_retainer_statement",
        "statement_optout_partner_ids",
    ),
}


# One model, one file per concern (core, posting, blocks, sales, revenue,
# notifications) to keep each file short.
class RetainerContract(models.Model):
    """Who hears about a retainer: the customer contacts that get its emails
    (alerts, statements), the ones who switched a kind off, and the one path
    every customer email of the retainer takes."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    notify_partner_ids = fields.Many2many(
        "res.partner",
        "retainer_contract_notify_partner_rel",
        "contract_id",
        "partner_id",
        string="Notified contacts",
        compute="_compute_notify_partner_ids",
        store=True,
        readonly=False,
        tracking=True,
        help="Customer contacts who receive this retainer's emails (balance "
        "alerts, expiry warnings, statements) and follow its conversation. "
        "Default: the customer's invoice address.",
    )
    alert_optout_partner_ids = fields.Many2many(
        "res.partner",
        "retainer_contract_alert_optout_rel",
        "contract_id",
        "partner_id",
        string="No alert emails",
        help="Contacts who switched off balance, overdraft and expiry emails "
        "for this retainer (from the portal or here).",
    )
    statement_optout_partner_ids = fields.Many2many(
        "res.partner",
        "retainer_contract_statement_optout_rel",
        "contract_id",
        "partner_id",
        string="No statement emails",
        help="Contacts who switched off statement emails for this retainer.",
    )

    @api.depends("partner_id")
    def _compute_notify_partner_ids(self):
        for contract in self:
            partner = contract.partner_id
            if not partner:
                contract.notify_partner_ids = False
                continue
            invoice_id = partner.address_get(["invoice"])["invoice"]
            contract.notify_partner_ids = partner.browse(invoice_id) or partner

    @api.constrains("partner_id", "notify_partner_ids")
    def _check_notify_partners_of_the_customer(self):
        self._retainer_check_contacts_of_the_customer("notify_partner_ids")

    @api.constrains("alert_optout_partner_ids", "statement_optout_partner_ids")
    def _check_optout_partners_of_the_customer(self):
        self._retainer_check_contacts_of_the_customer(
            "alert_optout_partner_ids", "statement_optout_partner_ids"
        )

    def _retainer_check_contacts_of_the_customer(self, *field_names):
        """Refuse contacts of another customer in ``field_names``: a
        notified contact gets the retainer's statements and alerts and
        follows its conversation.

        :raises ValidationError:
        """
        for contract in self:
            contacts = contract.env["res.partner"].union(
                *(contract[name] for name in field_names)
            )
            strangers = contacts - contract._retainer_contacts_of_the_customer(contacts)
            if strangers:
                raise ValidationError(
                    self.env._(
                        "%(contacts)s cannot get the emails of retainer "
                        "%(retainer)s: not a contact of %(customer)s.",
                        contacts=", ".join(strangers.mapped("display_name")),
                        retainer=contract.name,
                        customer=contract.partner_id.commercial_partner_id.display_name,
                    )
                )

    def _retainer_contacts_of_the_customer(self, partners):
        """The ``partners`` that belong to the customer of ``self`` (its
        commercial entity, as the portal's access rule)."""
        self.ensure_one()
        customer = self.partner_id.commercial_partner_id
        return partners.filtered(
            lambda partner: partner.commercial_partner_id == customer
        )

    @api.model_create_multi
    def create(self, vals_list):
        contracts = super().create(vals_list)
        contracts._retainer_subscribe_contacts()
        return contracts

    def write(self, vals):
        result = super().write(vals)
        if "notify_partner_ids" in vals or "partner_id" in vals:
            self._retainer_subscribe_contacts()
        return result

    def _retainer_subscribe_contacts(self):
        """Make the notified contacts followers (they get the replies of the
        retainer's conversation) and the account manager too."""
        for contract in self:
            partners = contract.notify_partner_ids | contract.user_id.partner_id
            if partners - contract.message_partner_ids:
                contract.message_subscribe(partner_ids=partners.ids)

    def _retainer_mail_recipients(self, kind):
        """Return ``(reachable, unreachable)`` of the contacts of ``self``
        who get emails of ``kind`` (see ``CUSTOMER_MAIL_KINDS``): the notified
        contacts but the ones who switched it off, split by whether they
        have an email address. A notified contact who no longer belongs to
        the customer (moved to another company) gets nothing
        (``_retainer_moved_contacts``)."""
        self.ensure_one()
        optout_field = CUSTOMER_MAIL_KINDS[kind][1]
        contacts = self._retainer_contacts_of_the_customer(
            self.notify_partner_ids - self[optout_field]
        )
        reachable = contacts.filtered("email")
        return reachable, contacts - reachable

    def _retainer_moved_contacts(self):
        """The notified contacts of ``self`` who no longer belong to its
        customer: they were its contacts when set, then moved."""
        self.ensure_one()
        return self.notify_partner_ids - self._retainer_contacts_of_the_customer(
            self.notify_partner_ids
        )

    def _retainer_post_customer_mail(
        self,
        template_xmlid,
        kind,
        render_values=None,
        attachment_ids=None,
        raise_on_failure=False,
    ):
        """Email ``self``'s contacts of ``kind`` the mail template
        ``template_xmlid`` rendered on the retainer, in its conversation,
        with the ``ir.attachment`` ids ``attachment_ids`` attached.

        The email is queued (sent by the mail queue after the transaction
        commits, retried the Odoo way), so a failing SMTP server never rolls
        back the posting that triggered it; a template that fails to render
        neither: it is undone alone (a savepoint), logged, and the account
        manager gets an activity. Contacts without an email address are
        named in an activity for the account manager.

        :param dict render_values: figures the template reads as
            ``ctx['retainer_mail_values']`` (mail templates render with the
            context, not with extra values).
        :param bool raise_on_failure: let a failing template raise (after
            undoing the email alone) instead of logging it: for a caller
            that must not record the email as sent (a statement, retried by
            the next run).
        :returns: the posted ``mail.message`` (empty when nobody gets it or
            the email failed).
        """
        self.ensure_one()
        reachable, unreachable = self._retainer_mail_recipients(kind)
        if unreachable:
            self._retainer_schedule_unreachable_activity(unreachable)
        moved = self._retainer_moved_contacts()
        if moved:
            self._retainer_schedule_moved_contacts_activity(moved)
        if not reachable:
            return self.env["mail.message"]
        template = self.env.ref(template_xmlid)
        # sudo: whoever triggered the email (a consultant logging time, the
        # scheduler) may only read the retainer; the email is the system's
        # reaction, sent from the company's address by the template.
        contract = self.sudo().with_context(
            mail_notify_force_send=False,
            retainer_mail_values=dict(render_values or {}),
        )
        try:
            with self.env.cr.savepoint():
                return contract.message_post_with_source(
                    template,
                    message_type="comment",
                    subtype_xmlid=CUSTOMER_MAIL_KINDS[kind][0],
                    partner_ids=reachable.ids,
                    **({"attachment_ids": attachment_ids} if attachment_ids else {}),
                )
        except psycopg2.Error:
            # A concurrency error (the whole transaction is retried) or a
            # broken constraint: never taken for a failed email.
            raise
        except Exception as error:
            if raise_on_failure:
                raise
            # The posting that triggered the email must stand: say it failed.
            _logger.exception(
                "Retainer %s: email %s could not be prepared", self.name, template_xmlid
            )
            self._retainer_schedule_mail_failure_activity(template, error)
            return self.env["mail.message"]

    def _retainer_schedule_statement_failure_activity(self, date_from, date_to, error):
        """Tell the account manager that the statement of a period could not
        be sent (once: the daily run tries again until it is)."""
        self.ensure_one()
        if not self.user_id:
            return
        summary = self.env._("Statement not sent")
        # sudo: the scheduler reads and writes the activities of any
        # retainer; the activity is the job's report, not a user's edit.
        contract_sudo = self.sudo()
        if contract_sudo.activity_ids.filtered(lambda a: a.summary == summary):
            return
        contract_sudo.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=self.env._(
                "The statement of %(date_from)s - %(date_to)s of retainer "
                "%(retainer)s could not be sent (%(error)s): check the statement "
                "mail template and report. The daily job tries again.",
                date_from=date_from,
                date_to=date_to,
                retainer=self.name,
                error=str(error) or type(error).__name__,
            ),
            user_id=self.user_id.id,
        )

    def _retainer_schedule_mail_failure_activity(self, template, error):
        self.ensure_one()
        if not self.user_id:
            return
        # sudo: as in _retainer_post_customer_mail.
        self.sudo().activity_schedule(
            "mail.mail_activity_data_todo",
            summary=self.env._("Customer email not sent"),
            note=self.env._(
                'The email "%(template)s" of retainer %(retainer)s could not be '
                "prepared (%(error)s): check the mail template, then tell the "
                "customer.",
                template=template.name,
                retainer=self.name,
                error=str(error) or type(error).__name__,
            ),
            user_id=self.user_id.id,
        )

    def _retainer_schedule_moved_contacts_activity(self, partners):
        """Tell the account manager that notified contacts who moved to
        another customer were left out (once, until the activity is done)."""
        self.ensure_one()
        if not self.user_id:
            return
        summary = self.env._("Contacts no longer with the customer")
        # sudo: as in _retainer_post_customer_mail.
        contract_sudo = self.sudo()
        if contract_sudo.activity_ids.filtered(lambda a: a.summary == summary):
            return
        contract_sudo.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=self.env._(
                "%(contacts)s no longer belong to %(customer)s and were not "
                "emailed about retainer %(retainer)s: remove them from its "
                "notified contacts.",
                contacts=", ".join(partners.mapped("display_name")),
                customer=self.partner_id.commercial_partner_id.display_name,
                retainer=self.name,
            ),
            user_id=self.user_id.id,
        )

    def _retainer_schedule_unreachable_activity(self, partners):
        self.ensure_one()
        if not self.user_id:
            return
        # sudo: as in _retainer_post_customer_mail.
        self.sudo().activity_schedule(
            "mail.mail_activity_data_todo",
            summary=self.env._("Contacts without email address"),
            note=self.env._(
                "Could not email %(contacts)s about retainer %(retainer)s: "
                "no email address.",
                contacts=", ".join(partners.mapped("display_name")),
                retainer=self.name,
            ),
            user_id=self.user_id.id,
        )
