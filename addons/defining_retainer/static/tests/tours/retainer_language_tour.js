/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on TestLanguageTour (tests/test_sale_language.py): an order of
// 2 retainer days, its invoice, and the retainer they top up.

registry.category("web_tour.tours").add("defining_retainer_order_units_tour", {
    steps: () => [
        {
            content: "The order line is sold in retainer days, not in Units",
            trigger: ".o_field_widget[name=order_line] .o_data_row td[name=product_uom]:contains('Retainer days')",
        },
        {
            content: "The order line says what it credits",
            trigger: ".o_field_widget[name=order_line] .o_data_row td[name=retainer_credit_text]:contains('56 units, 14 h')",
        },
        {
            content: "The confirmed order line says what it delivered",
            trigger: ".o_field_widget[name=order_line] .o_data_row td[name=retainer_delivered_text]:contains('56 units, 14 h credited on')",
        },
        {
            content: "The order leads to its retainer",
            trigger: ".o_form_view button[name=action_view_retainer]:contains('Retainer')",
        },
    ],
});

registry.category("web_tour.tours").add("defining_retainer_invoice_units_tour", {
    steps: () => [
        {
            content: "The invoice line says what it credits",
            trigger: ".o_field_widget[name=invoice_line_ids] .o_data_row td[name=retainer_credit_text]:contains('56 units, 14 h')",
        },
        {
            content: "The invoice leads to its retainer",
            trigger: ".o_form_view button[name=action_view_retainers]:contains('Retainer')",
            run: "click",
        },
        {
            content: "The retainer opens, with its balance as a duration",
            trigger: ".o_form_view .o_field_widget[name=balance_hours]:contains('14 h'):not(:contains(':'))",
        },
    ],
});

registry.category("web_tour.tours").add("defining_retainer_urgency_tour", {
    steps: () => [
        {
            content: "The retainer list has its urgency columns",
            trigger: ".o_list_view th[data-name=urgency_forecast_date]:contains('Runs out')",
        },
        {
            trigger: ".o_list_view th[data-name=urgency_expiring_units]:contains('Expiring (30 days)')",
        },
        {
            content: "Expiring units are on the retainer's row",
            trigger: ".o_list_view .o_data_row td[name=urgency_expiring_units]:contains('8')",
        },
        {
            content: "The balance reads as a duration",
            trigger: ".o_list_view .o_data_row td[name=balance_hours]:contains('16 h'):not(:contains(':'))",
        },
        {
            content: "Sort by expiring units: the column is sortable",
            trigger: ".o_list_view th.o_column_sortable[data-name=urgency_expiring_units]",
            run: "click",
        },
        {
            content: "The list is sorted by it",
            trigger: ".o_list_view th[data-name=urgency_expiring_units] i.o_list_sortable_caret.fa-angle-up:not(.opacity-0)",
        },
        {
            content: "Sort by run-out date",
            trigger: ".o_list_view th.o_column_sortable[data-name=urgency_forecast_date]",
            run: "click",
        },
        {
            trigger: ".o_list_view th[data-name=urgency_forecast_date] i.o_list_sortable_caret.fa-angle-up:not(.opacity-0)",
        },
    ],
});
