/** @odoo-module **/

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Relies on the data of TestStaffTour (tests/test_staff_tour.py): the
// retainer of "Quarter Hour Ltd" with its 56-unit opening block and time
// logged on it in two months.

function openMenu(xmlid) {
    return {
        content: `Open the menu ${xmlid}`,
        trigger: `.o_menu_sections [data-menu-xmlid='${xmlid}']`,
        run: "click",
    };
}

registry.category("web_tour.tours").add("defining_retainer_staff_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("defining_retainer.retainer_menu_root", "Open the Retainers app"),
        {
            content: "The app opens on the retainers, balance in units and hours",
            trigger: ".o_kanban_record:contains('Quarter Hour Ltd'):contains('units'):contains(' h')",
        },
        openMenu("defining_retainer.retainer_ledger_entry_menu"),
        {
            content: "The ledger lists the opening block as a credit of 14 h, signed like its units, with the balance after it",
            trigger: ".o_list_view .o_data_row:contains('Opening block'):has(td[name='signed_hours']:contains('14 h'):not(:contains('-'))):has(td[name='balance_after']:contains('43'))",
        },
        {
            content: "Usage reads as negative time, never as a clock time",
            trigger: ".o_list_view .o_data_row:contains('Printer set-up') td[name='signed_hours']:contains('-1 h'):not(:contains(':'))",
        },
        {
            content: "Usage has a description too",
            trigger: ".o_list_view .o_data_row:contains('Printer set-up') td[name='units']:contains('-4')",
        },
        openMenu("defining_retainer.retainer_report_menu"),
        {
            content: "Open the usage analysis",
            trigger: ".dropdown-item[data-menu-xmlid='defining_retainer.retainer_usage_report_menu']",
            run: "click",
        },
        {
            content: "The pivot shows the usage of the customer",
            trigger: ".o_pivot_view .o_pivot th:contains('Quarter Hour Ltd')",
        },
        {
            content: "Switch to the graph",
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "The graph of the usage by consultant is drawn",
            trigger: ".o_graph_view .o_graph_renderer canvas",
        },
        openMenu("defining_retainer.retainer_contract_menu"),
        {
            content: "Open the retainer",
            trigger: ".o_kanban_record:contains('Quarter Hour Ltd')",
            run: "click",
        },
        {
            content: "Open its balance over time",
            trigger: ".o_form_view button[name='action_view_balance_graph']:contains('Balance')",
            run: "click",
        },
        {
            content: "The balance is a line over time",
            trigger: ".o_graph_view .o_graph_renderer canvas",
        },
        {
            content: "Of this retainer",
            trigger: ".o_breadcrumb:contains('Balance of')",
        },
    ],
});
