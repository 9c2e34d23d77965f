from . import retainer_usage_report
