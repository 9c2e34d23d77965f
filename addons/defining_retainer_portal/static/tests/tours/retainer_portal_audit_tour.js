/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on TestPortalAudit.test_audit_tour: the retainer waits for the
// customer's acknowledgement of a completed audit with an unsupported asset.

registry.category("web_tour.tours").add("defining_retainer_portal_audit_tour", {
    steps: () => [
        {
            content: "The unsupported asset comes first, with the catalogue's note",
            trigger: "#retainer_audit tr.o_retainer_audit_asset_not_supported:contains('Billing system')",
        },
        {
            trigger: "#retainer_audit .o_retainer_audit_asset_note:contains('we can recommend a specialist')",
        },
        {
            content: "Type one's name",
            trigger: "#retainer_audit input.o_retainer_audit_name",
            run: "edit Olivia Owner",
        },
        {
            content: "Acknowledge the findings",
            trigger: "#retainer_audit button.o_retainer_audit_acknowledge",
            run: "click",
        },
        {
            content: "The acknowledgement is recorded",
            trigger: "#retainer_audit .o_retainer_audit_done",
        },
        {
            trigger: "#retainer_audit .o_retainer_audit_acknowledged:contains('Olivia Owner')",
        },
    ],
});
