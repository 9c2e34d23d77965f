from . import ticket_close
from . import portal_ticket
