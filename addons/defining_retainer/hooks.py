def post_init_hook(env):
    """Companies whose chart of accounts was loaded before this module get
    their deferred retainer revenue account (see res.company); retainers
    already there (demo data) get their stored urgency (run-out date and
    expiring units), which the daily job keeps fresh afterwards."""
    env["res.company"].search([])._retainer_setup_revenue_accounts()
    env["retainer.contract"]._cron_refresh_urgency()
