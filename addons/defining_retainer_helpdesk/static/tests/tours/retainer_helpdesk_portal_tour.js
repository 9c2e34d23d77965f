/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on TestPortalTicketTour (tests/test_portal_ticket_tour.py): the
// customer has one retainer; between the two tours a consultant logs 0:37 by
// telephone on the ticket the first one opens, which costs 3 units (15-minute
// units, 5 minutes of grace).

const SUBJECT = "Printer offline in the meeting room";

registry.category("web_tour.tours").add("defining_retainer_helpdesk_open_ticket_tour", {
    url: "/my/retainers",
    steps: () => [
        {
            content: "Open the retainer from the list",
            trigger: "tr.o_retainer_list_row a",
            run: "click",
        },
        {
            content: "The retainer's page has no ticket yet",
            trigger: ".o_retainer_tickets .o_retainer_tickets_empty",
        },
        {
            content: "Open a ticket from the retainer's page",
            trigger: "a.o_retainer_new_ticket",
            run: "click",
        },
        {
            content: "The form says which retainer the ticket is for",
            trigger: ".o_retainer_new_ticket_for",
        },
        {
            trigger: "form input[name='subject']",
            run: `edit ${SUBJECT}`,
        },
        {
            trigger: "form textarea[name='description']",
            run: "edit Nobody can print since this morning.",
        },
        {
            trigger: "form button[type='submit']",
            run: "click",
        },
        {
            content: "The new ticket's page",
            trigger: `#card_header h3:contains('${SUBJECT}')`,
        },
        {
            content: "No work on it yet",
            trigger: ".o_ticket_retainer .o_ticket_retainer_no_work",
        },
    ],
});

registry.category("web_tour.tours").add("defining_retainer_helpdesk_ticket_units_tour", {
    url: "/my/retainers",
    steps: () => [
        {
            content: "Open the retainer from the list",
            trigger: "tr.o_retainer_list_row a",
            run: "click",
        },
        {
            content: "The ticket is listed with the units its work used",
            trigger: `tr.o_retainer_ticket_row:has(.o_retainer_ticket_name:contains('${SUBJECT}')) .o_retainer_ticket_units[data-units='3']`,
        },
        {
            content: "The call is in the retainer's usage",
            trigger: ".o_retainer_usage_row:contains('Call about the printer')",
        },
        {
            content: "Open the ticket",
            trigger: `tr.o_retainer_ticket_row:has(.o_retainer_ticket_name:contains('${SUBJECT}')) a`,
            run: "click",
        },
        {
            content: "Its page shows the call, by telephone, and its units",
            trigger: ".o_ticket_retainer_work .o_retainer_usage_row:contains('Call about the printer'):contains('Telephone'):contains('-3')",
        },
        {
            trigger: ".o_ticket_retainer_balance",
        },
    ],
});
