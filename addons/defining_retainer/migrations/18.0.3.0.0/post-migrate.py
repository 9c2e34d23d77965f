"""Revenue recognition: companies with a chart of accounts get a deferred
retainer revenue account, and defaults for the revenue account and the
recognition journal. Deferral stays off: invoices already posted keep their
income accounts and are never recognised by the job."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["res.company"].search([])._retainer_setup_revenue_accounts()
