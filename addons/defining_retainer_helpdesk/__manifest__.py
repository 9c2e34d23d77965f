{
    "name": "Retained Support Contracts - Support Desk",
    "summary": "Helpdesk tickets on retainers: ticket time debits the retainer, "
    "channels give the contact type, support levels give response targets",
    "version": "18.0.1.0.0",
    "category": "Services/Helpdesk",
    # Extends OCA's helpdesk_mgmt modules, which are AGPL-3.
    "license": "AGPL-3",
    "author": "Defining Retainer",
    "website": "https://github.com/defining-retainer/defining-retainer",
    "maintainers": ["defining-retainer"],
    "development_status": "Beta",
    "depends": [
        "defining_retainer",
        "defining_retainer_portal",
        "helpdesk_mgmt_timesheet",
        "helpdesk_mgmt_sla",
    ],
    "data": [
        "data/helpdesk_ticket_channel_data.xml",
        "views/helpdesk_ticket_views.xml",
        "views/helpdesk_ticket_channel_views.xml",
        "views/helpdesk_ticket_close_templates.xml",
        "views/helpdesk_ticket_portal_templates.xml",
        "views/retainer_level_views.xml",
        "report/retainer_usage_report_views.xml",
        "report/retainer_statement_report.xml",
    ],
    "demo": [
        "demo/helpdesk_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "defining_retainer_helpdesk/static/tests/tours/**/*",
        ],
    },
    "auto_install": True,
}
