from .common import RetainerPortalCommon


class RetainerPortalChatterCommon(RetainerPortalCommon):
    """Each customer's portal user is a notified contact of their retainer
    (so a follower); a mail template on retainers, as the alerts and
    statements use through ``_retainer_post_customer_mail``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for user, retainer in (
            (cls.portal_user, cls.retainer),
            (cls.other_portal_user, cls.other_retainer),
        ):
            user.partner_id.email = f"{user.login}@example.com"
            retainer.notify_partner_ids = user.partner_id
        template = cls.env["mail.template"].create(
            {
                "name": "Test retainer email",
                "model_id": cls.env["ir.model"]._get_id("retainer.contract"),
                "subject": "About {{ object.name }}",
                "body_html": "<p>Customer email of the retainer</p>",
            }
        )
        cls.env["ir.model.data"].create(
            {
                "module": "__test__",
                "name": "retainer_portal_chatter_template",
                "model": "mail.template",
                "res_id": template.id,
            }
        )
        cls.template_xmlid = "__test__.retainer_portal_chatter_template"

    def _post_customer_mail(self, retainer, kind):
        message = retainer._retainer_post_customer_mail(self.template_xmlid, kind)
        self.assertTrue(message, "the customer email was not posted")
        return message

    def _chatter_fetch(self, retainer, **params):
        """Messages (formatted) the portal chatter of ``retainer`` lists."""
        result = self.make_jsonrpc_request(
            "/mail/chatter_fetch",
            {
                "thread_model": "retainer.contract",
                "thread_id": retainer.id,
                "limit": 100,
                **params,
            },
        )
        return result["data"]["mail.message"]

    def _chatter_post(self, retainer, body, **params):
        return self.make_jsonrpc_request(
            "/mail/message/post",
            {
                "thread_model": "retainer.contract",
                "thread_id": retainer.id,
                "post_data": {
                    "body": body,
                    "message_type": "comment",
                    "subtype_xmlid": "mail.mt_comment",
                },
                **params,
            },
        )
