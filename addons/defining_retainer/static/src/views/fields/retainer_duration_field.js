import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

import { Component } from "@odoo/owl";

/**
 * A duration in hours as people read it: "22 h 45 min", never a clock time.
 * Same rules as the server's tools/durations.py (the PDF, the portal and the
 * emails): rounded to the minute, half a minute away from zero.
 */
export function formatRetainerDuration(value) {
    if (value === false || value === null || value === undefined) {
        return "";
    }
    const scaled = Math.round(value * 60 * 1e9) / 1e9;
    const minutes = Math.sign(scaled) * Math.floor(Math.abs(scaled) + 0.5);
    const sign = minutes < 0 ? "-" : "";
    const total = Math.abs(minutes);
    const hours = Math.floor(total / 60);
    const rest = total % 60;
    if (!hours) {
        return `${sign}${rest} min`;
    }
    if (!rest) {
        return `${sign}${hours} h`;
    }
    return `${sign}${hours} h ${rest} min`;
}

export class RetainerDurationField extends Component {
    static template = "defining_retainer.RetainerDurationField";
    static props = { ...standardFieldProps };

    get formattedValue() {
        return formatRetainerDuration(this.props.record.data[this.props.name]);
    }
}

export const retainerDurationField = {
    component: RetainerDurationField,
    displayName: _t("Duration"),
    supportedTypes: ["float"],
    isEmpty: () => false,
};

registry.category("fields").add("retainer_duration", retainerDurationField);
// Totals of list columns and pivot measures use the formatter of the widget.
registry.category("formatters").add("retainer_duration", formatRetainerDuration);
