from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request

from ..tools.params import parse_id, parse_text
from .portal import RetainerPortal

AUDIT_SESSION_KEY = "defining_retainer_portal_audit"
AUDIT_REPORT = "defining_retainer.action_report_retainer_audit"
# A name typed to sign the acknowledgement.
NAME_MAX_LENGTH = 100


class RetainerPortalAudit(RetainerPortal):
    """The retainer's audit and health-check on its page: the assets and
    findings, the PDF report, and the customer's acknowledgement."""

    def _retainer_page_values(self, retainer_sudo, access_token, **kw):
        values = {**self._retainer_audit_values(retainer_sudo, access_token), **kw}
        return super()._retainer_page_values(retainer_sudo, access_token, **values)

    def _retainer_audit_values(self, retainer_sudo, access_token):
        """Values of the audit section (``audit`` is ``None`` when the
        retainer has none), and the outcome of the last acknowledgement,
        shown once."""
        result = request.session.get(AUDIT_SESSION_KEY)
        if result and result.get("retainer_id") == retainer_sudo.id:
            request.session.pop(AUDIT_SESSION_KEY)
        else:
            result = None
        audit_sudo = retainer_sudo.current_audit_id
        if not audit_sudo:
            return {"audit": None, "audit_result": result}
        requester = self._retainer_requester()
        return {
            "audit": audit_sudo,
            "audit_values": audit_sudo._retainer_report_values(),
            "audit_pdf_url": self._retainer_url(
                retainer_sudo, access_token, suffix=f"/audit/{audit_sudo.id}"
            ),
            "audit_can_acknowledge": bool(
                requester and audit_sudo._retainer_can_acknowledge(requester)
            ),
            "audit_result": result,
        }

    @http.route(
        ["/my/retainers/<int:retainer_id>/audit/<int:audit_id>"],
        type="http",
        auth="public",
        website=True,
        readonly=True,
    )
    def portal_my_retainer_audit_pdf(
        self, retainer_id, audit_id, access_token=None, **kw
    ):
        """The PDF report of an audit of the retainer (earlier ones too)."""
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        audit_id = parse_id(audit_id)
        audit_sudo = retainer_sudo.audit_ids.filtered(
            lambda audit: audit.id == audit_id and audit.state != "draft"
        )
        if not audit_sudo:
            raise NotFound()
        return self._show_report(
            model=audit_sudo, report_type="pdf", report_ref=AUDIT_REPORT, download=True
        )

    @http.route(
        ["/my/retainers/<int:retainer_id>/audit/acknowledge"],
        type="http",
        auth="user",
        website=True,
        methods=["POST"],
    )
    def portal_my_retainer_audit_acknowledge(
        self, retainer_id, audit_id=None, name=None, **kw
    ):
        """The logged-in contact acknowledges the retainer's current audit,
        signing with ``name``. Only with the user's own access to the
        retainer: a share link does not sign for the customer."""
        try:
            retainer_sudo = self._retainer_check_access(retainer_id, None)
        except (AccessError, MissingError) as error:
            raise NotFound() from error
        audit_sudo = retainer_sudo.current_audit_id
        if not audit_sudo or audit_sudo.id != parse_id(audit_id):
            result = {
                "retainer_id": retainer_sudo.id,
                "error": request.env._(
                    "This audit is no longer the retainer's current one: reload "
                    "the page."
                ),
            }
        else:
            # sudo: customers may not write audits; the model method checks
            # that the user's contact is one of the customer's, with portal
            # access, and writes only the acknowledgement.
            try:
                audit_sudo._retainer_acknowledge(
                    request.env.user.partner_id, parse_text(name, NAME_MAX_LENGTH)
                )
            except (AccessError, UserError) as error:
                result = {"retainer_id": retainer_sudo.id, "error": error.args[0]}
            else:
                result = {"retainer_id": retainer_sudo.id, "done": True}
        request.session[AUDIT_SESSION_KEY] = result
        return request.redirect(
            self._retainer_url(retainer_sudo, None) + "#retainer_audit"
        )
