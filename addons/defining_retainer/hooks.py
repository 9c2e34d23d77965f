def post_init_hook(env):
    """Companies whose chart of accounts was loaded before this module get
    their deferred retainer revenue account (see res.company)."""
    env["res.company"].search([])._retainer_setup_revenue_accounts()
