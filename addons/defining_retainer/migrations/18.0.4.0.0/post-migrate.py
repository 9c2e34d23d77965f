"""Customer emails: every retainer gets its notified contacts (the
customer's invoice address, else the customer: the default of new
retainers) and they, with the account manager, follow its conversation."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    contracts = env["retainer.contract"].with_context(active_test=False).search([])
    missing = contracts.filtered(lambda contract: not contract.notify_partner_ids)
    missing._compute_notify_partner_ids()
    contracts._retainer_subscribe_contacts()
