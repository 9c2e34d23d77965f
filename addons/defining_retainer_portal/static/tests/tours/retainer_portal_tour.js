/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on the data of RetainerPortalCommon (tests/common.py): the tour's
// customer has one retainer whose usage includes "Server recovery after
// power cut" 60 days ago and "Backup health check" 15 days ago.

function isoDaysAgo(days) {
    const day = new Date(Date.now() - days * 86400000);
    return day.toISOString().slice(0, 10);
}

registry.category("web_tour.tours").add("defining_retainer_portal_tour", {
    url: "/my",
    steps: () => [
        {
            content: "The home shows the Retainers entry once its counter is loaded",
            trigger: ".o_portal_index_card a[href='/my/retainers']",
            run: "click",
        },
        {
            content: "Open the retainer from the list",
            trigger: "tr.o_retainer_list_row a",
            run: "click",
        },
        {
            content: "The balance card and the forecast are shown",
            trigger: ".o_retainer_balance .o_retainer_balance_units",
        },
        {
            content: "The balance reads as a duration, never as a clock time",
            trigger: ".o_retainer_balance .o_retainer_balance_time:contains(' h'):not(:contains(':'))",
        },
        {
            trigger: ".o_retainer_forecast",
        },
        {
            content: "The sidebar names the account manager",
            trigger: ".o_retainer_contact:contains('Your contact') .o_retainer_send_message",
        },
        {
            content: "Old usage is listed before filtering",
            trigger: ".o_retainer_usage:contains('Server recovery after power cut')",
        },
        {
            content: "Time entered reads in hours and minutes (3 h 37 min), never 03:37",
            trigger: ".o_retainer_usage tr:contains('Server recovery after power cut') td:contains('3 h 37 min'):not(:contains(':'))",
        },
        {
            content: "Filter the usage on the last 30 days",
            trigger: "input#retainer_date_from",
            run() {
                this.anchor.value = isoDaysAgo(30);
            },
        },
        {
            trigger: "input#retainer_date_to",
            run() {
                this.anchor.value = isoDaysAgo(0);
            },
        },
        {
            trigger: ".o_retainer_usage_apply",
            run: "click",
        },
        {
            content: "Only recent usage is left",
            trigger: ".o_retainer_usage:contains('Backup health check'):not(:contains('Server recovery after power cut'))",
        },
        {
            content: "The statement link covers the filtered period and downloads",
            trigger: "a.o_retainer_statement_link",
            async run() {
                const href = this.anchor.getAttribute("href");
                for (const part of ["report_type=pdf", "download=true", `date_from=${isoDaysAgo(30)}`]) {
                    if (!href.includes(part)) {
                        throw new Error(`Statement link ${href} lacks ${part}`);
                    }
                }
                const response = await fetch(href);
                if (!response.ok) {
                    throw new Error(`Statement download failed: ${response.status}`);
                }
            },
        },
        {
            content: "Ask for a top-up of 2 days",
            trigger: ".o_retainer_topup_form input[name='quantity']",
            run: "edit 2",
        },
        {
            trigger: ".o_retainer_topup_form select[name='unit']",
            run: "select day",
        },
        {
            trigger: ".o_retainer_topup_form textarea[name='note']",
            run: "edit Busy month ahead",
        },
        {
            trigger: ".o_retainer_topup_submit",
            run: "click",
        },
        {
            content: "The request is confirmed",
            trigger: ".o_retainer_topup_done",
        },
    ],
});
