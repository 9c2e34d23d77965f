from . import mail_message
from . import retainer_contract
from . import retainer_contract_chatter
from . import retainer_ledger_entry
