from werkzeug.exceptions import BadRequest, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request

from odoo.addons.portal.controllers.mail import PortalChatter

from ..models.mail_message import RETAINER_CHATTER_CONTEXT_KEY
from ..tools.params import parse_count, parse_id
from .portal import RetainerPortal

MAIL_PREFERENCES_SESSION_KEY = "defining_retainer_portal_mail_preferences"
# Messages one fetch of the portal chatter returns at most (it asks 30).
CHATTER_FETCH_MAX = 100


class RetainerPortalMail(RetainerPortal):
    """The customer's email preferences on the retainer's page."""

    def _retainer_page_values(self, retainer_sudo, access_token, **kw):
        """The retainer page also shows the email preferences form."""
        values = {**self._retainer_mail_preferences_values(retainer_sudo), **kw}
        return super()._retainer_page_values(retainer_sudo, access_token, **values)

    def _retainer_mail_preferences_values(self, retainer_sudo):
        """Values of the email preferences form: only a logged-in user has
        preferences (``mail_preferences`` is ``None`` for a visitor using a
        share link), and the result of the last change, shown once."""
        requester = self._retainer_requester()
        result = request.session.get(MAIL_PREFERENCES_SESSION_KEY)
        if result and result.get("retainer_id") == retainer_sudo.id:
            request.session.pop(MAIL_PREFERENCES_SESSION_KEY)
        else:
            result = None
        return {
            "mail_preferences": (
                retainer_sudo._portal_mail_preferences(requester) if requester else None
            ),
            "mail_preferences_result": result,
        }

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
