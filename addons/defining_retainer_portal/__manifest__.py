{
    "name": "Retained Support Contracts - Customer Portal",
    "summary": "Customers see their retainers' balance and usage on the portal",
    "version": "18.0.1.0.0",
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
    ],
}
