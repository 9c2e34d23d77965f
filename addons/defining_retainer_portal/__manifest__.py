{
    "name": "Retained Support Contracts - Customer Portal",
    "summary": "Customers see their retainers' balance, usage, forecast and "
    "statements on the portal, write to their account manager, and buy or "
    "request top-ups",
    "version": "18.0.2.0.0",
    "category": "Services/Timesheets",
    "license": "LGPL-3",
    "author": "Defining Retainer",
    "website": "https://github.com/defining-retainer/defining-retainer",
    "maintainers": ["defining-retainer"],
    "development_status": "Beta",
    "depends": ["defining_retainer", "portal"],
    "data": [
        "security/ir.model.access.csv",
        "security/retainer_portal_security.xml",
        "views/retainer_contract_portal_templates.xml",
        "views/retainer_audit_portal_templates.xml",
        "views/res_config_settings_views.xml",
        "views/product_template_views.xml",
    ],
    "demo": ["demo/product_demo.xml"],
    "assets": {
        "web.assets_frontend": [
            "defining_retainer_portal/static/src/scss/retainer_portal.scss",
        ],
        "web.assets_tests": [
            "defining_retainer_portal/static/tests/tours/**/*",
        ],
    },
}
