from . import test_staff_screenshots
from . import test_ticket_channel
from . import test_ticket_close
from . import test_ticket_retainer
from . import test_ticket_sla
from . import test_ticket_timesheet
from . import test_usage_report
