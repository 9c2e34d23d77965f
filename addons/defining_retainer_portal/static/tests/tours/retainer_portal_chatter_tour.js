/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on TestPortalTour.test_portal_chatter_tour: the tour's customer is
// a notified contact of their retainer, which has an alert email already.

const MESSAGE = "Can we plan the server move next week?";

registry.category("web_tour.tours").add("defining_retainer_portal_chatter_tour", {
    url: "/my/retainers",
    steps: () => [
        {
            content: "Open the retainer from the list",
            trigger: "tr.o_retainer_list_row a",
            run: "click",
        },
        {
            content: "The conversation lists the alert email the customer got",
            trigger: "#chatterRoot:shadow .o-mail-Message:contains('Your balance is low')",
        },
        {
            content: "Write to the account manager",
            trigger: "#chatterRoot:shadow .o-mail-Composer-input",
            run: `edit ${MESSAGE}`,
        },
        {
            trigger: "#chatterRoot:shadow .o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            content: "The message shows in the conversation",
            trigger: `#chatterRoot:shadow .o-mail-Message:contains('${MESSAGE}')`,
        },
        {
            content: "Alert emails are on: switch them off",
            trigger: ".o_retainer_mail_preferences_form input#retainer_mail_alert:checked",
            run: "click",
        },
        {
            trigger: ".o_retainer_mail_preferences_form input#retainer_mail_alert:not(:checked)",
        },
        {
            trigger: ".o_retainer_mail_preferences_save",
            run: "click",
        },
        {
            content: "Saved: the alerts are off, the statements still on",
            trigger: ".o_retainer_mail_preferences_saved",
        },
        {
            trigger: ".o_retainer_mail_preferences_form input#retainer_mail_alert:not(:checked)",
        },
        {
            trigger: ".o_retainer_mail_preferences_form input#retainer_mail_statement:checked",
        },
        {
            content: "The message is still in the conversation after the reload",
            trigger: `#chatterRoot:shadow .o-mail-Message:contains('${MESSAGE}')`,
        },
    ],
});
